// Package documents is the search service's adapter to the document records the pipeline
// keeps in Redis.
package documents

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"sluice.dev/searchapi/internal/search"
)

// Store reads records (one Redis hash per document: <prefix>:doc:<tenant>:<id>). Its errors
// are search.ErrNotFound and ones wrapping search.ErrRedisUnavailable.
type Store struct {
	client *redis.Client
	prefix string
}

var _ search.Records = (*Store)(nil)

// New connects lazily to the Redis at url.
func New(url, prefix string) (*Store, error) {
	options, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	return &Store{client: redis.NewClient(options), prefix: prefix}, nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.client.Close() }

// Get returns the record of a tenant's document.
func (s *Store) Get(ctx context.Context, tenant, id string) (search.Record, error) {
	fields, err := s.client.HGetAll(ctx, fmt.Sprintf("%s:doc:%s:%s", s.prefix, tenant, id)).Result()
	if err != nil {
		return search.Record{}, fmt.Errorf("%w: %w", search.ErrRedisUnavailable, err)
	}
	if len(fields) == 0 {
		return search.Record{}, search.ErrNotFound
	}
	chunks, _ := strconv.Atoi(fields["chunks"])
	record := search.Record{
		ID: id, Tenant: tenant, Version: fields["version"], Status: fields["status"], Chunks: chunks,
		CreatedAt: fields["created_at"], AcceptedAt: fields["accepted_at"],
		UpdatedAt: fields["updated_at"], IndexedAt: fields["indexed_at"],
	}
	if message := fields["error"]; message != "" {
		record.Error = &message
	}
	return record, nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: %w", search.ErrRedisUnavailable, err)
	}
	return nil
}
