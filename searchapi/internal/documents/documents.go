// Package documents reads the document records the pipeline keeps in Redis.
package documents

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

var (
	// ErrNotFound means the tenant has no document with that id.
	ErrNotFound = errors.New("document not found")
	// ErrUnavailable wraps failures to reach Redis.
	ErrUnavailable = errors.New("redis unavailable")
)

// Record is a document's status as the pipeline last wrote it.
type Record struct {
	ID         string  `json:"id"`
	Tenant     string  `json:"tenant"`
	Version    string  `json:"version"`
	Status     string  `json:"status"`
	Chunks     int     `json:"chunks"`
	Error      *string `json:"error"`
	CreatedAt  string  `json:"created_at"`
	AcceptedAt string  `json:"accepted_at"`
	UpdatedAt  string  `json:"updated_at"`
	IndexedAt  string  `json:"indexed_at,omitempty"`
}

// Store reads records (one Redis hash per document: <prefix>:doc:<tenant>:<id>).
type Store struct {
	client *redis.Client
	prefix string
}

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
func (s *Store) Get(ctx context.Context, tenant, id string) (Record, error) {
	fields, err := s.client.HGetAll(ctx, fmt.Sprintf("%s:doc:%s:%s", s.prefix, tenant, id)).Result()
	if err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if len(fields) == 0 {
		return Record{}, ErrNotFound
	}
	chunks, _ := strconv.Atoi(fields["chunks"])
	record := Record{
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
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}
