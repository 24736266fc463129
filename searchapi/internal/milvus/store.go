// Package milvus is the search service's adapter to Milvus: dense, full-text (BM25) and
// hybrid (RRF) searches and counts on the chunk collection, with the connection made lazily
// and remade after failures, so the service starts and recovers while Milvus is down.
package milvus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sluice.dev/searchapi/internal/embed"
)

var (
	// ErrUnavailable wraps failures to reach Milvus or to get an answer in time.
	ErrUnavailable = errors.New("milvus unavailable")
	// ErrRejected wraps errors Milvus answered with (a bad expression, a missing collection).
	ErrRejected = errors.New("milvus rejected the request")
	// ErrEmbedderMismatch means the collection holds vectors of another embedder than the
	// one searchapi embeds queries with: searching would return nonsense.
	ErrEmbedderMismatch = errors.New("embedder mismatch")
)

// embedderProperty is the collection property where the index function records its embedder.
const embedderProperty = "sluice.embedder"

// Fields read back with every hit (naming them keeps vectors out of the answer).
var outputFields = []string{"chunk_id", "doc_id", "chunk", "title", "text", "metadata"}

// Hit is one chunk found by a search.
type Hit struct {
	ChunkID    string          `json:"chunk_id"`
	DocumentID string          `json:"document_id"`
	Chunk      int64           `json:"chunk"`
	Score      float32         `json:"score"`
	Title      string          `json:"title"`
	Text       string          `json:"text"`
	Metadata   json.RawMessage `json:"metadata"`
}

// Observer is told how long each Milvus operation took.
type Observer func(operation string, took time.Duration)

// Store runs searches against one collection (or alias).
type Store struct {
	config     milvusclient.ClientConfig
	collection string
	embedder   embed.Identity
	timeout    time.Duration
	observe    Observer
	verified   atomic.Bool

	mu     sync.Mutex
	client *milvusclient.Client
}

// New returns a store for the collection (or alias) filled by `embedder`; it connects on
// first use.
func New(uri, token, collection string, embedder embed.Identity, timeout time.Duration, observe Observer) *Store {
	if observe == nil {
		observe = func(string, time.Duration) {}
	}
	return &Store{
		config:     milvusclient.ClientConfig{Address: uri, APIKey: token},
		collection: collection,
		embedder:   embedder,
		timeout:    timeout,
		observe:    observe,
	}
}

// Close closes the connection, if any.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil
	}
	err := s.client.Close(ctx)
	s.client = nil
	return err
}

// Dense returns the chunks nearest to the vector (cosine).
func (s *Store) Dense(ctx context.Context, vector []float32, filter string, limit, offset int) ([]Hit, error) {
	option := milvusclient.NewSearchOption(s.collection, limit, []entity.Vector{entity.FloatVector(vector)}).
		WithANNSField("dense").WithFilter(filter).WithOffset(offset).WithOutputFields(outputFields...)
	return s.search(ctx, "search_dense", func(c *milvusclient.Client) ([]milvusclient.ResultSet, error) {
		return c.Search(ctx, option)
	})
}

// Text returns the chunks that best match the query by BM25 (Milvus tokenises the text).
func (s *Store) Text(ctx context.Context, query, filter string, limit, offset int) ([]Hit, error) {
	option := milvusclient.NewSearchOption(s.collection, limit, []entity.Vector{entity.Text(query)}).
		WithANNSField("sparse").WithSearchParam("metric_type", "BM25").WithFilter(filter).
		WithOffset(offset).WithOutputFields(outputFields...)
	return s.search(ctx, "search_text", func(c *milvusclient.Client) ([]milvusclient.ResultSet, error) {
		return c.Search(ctx, option)
	})
}

// Hybrid runs a dense and a BM25 search of `candidates` each and fuses them by reciprocal
// rank (Milvus's RRF ranker).
func (s *Store) Hybrid(ctx context.Context, vector []float32, query, filter string, limit, offset, candidates int) ([]Hit, error) {
	dense := milvusclient.NewAnnRequest("dense", candidates, entity.FloatVector(vector)).WithFilter(filter)
	text := milvusclient.NewAnnRequest("sparse", candidates, entity.Text(query)).
		WithSearchParam("metric_type", "BM25").WithFilter(filter)
	option := milvusclient.NewHybridSearchOption(s.collection, limit, dense, text).
		WithReranker(milvusclient.NewRRFReranker()).WithOffset(offset).WithOutputFields(outputFields...)
	return s.search(ctx, "search_hybrid", func(c *milvusclient.Client) ([]milvusclient.ResultSet, error) {
		return c.HybridSearch(ctx, option)
	})
}

// Count returns how many chunks match the filter.
func (s *Store) Count(ctx context.Context, filter string) (int64, error) {
	var count int64
	err := s.call(ctx, "count", func(ctx context.Context, c *milvusclient.Client) error {
		result, err := c.Query(ctx, milvusclient.NewQueryOption(s.collection).
			WithFilter(filter).WithOutputFields("count(*)"))
		if err != nil {
			return err
		}
		column := result.GetColumn("count(*)")
		if column == nil || column.Len() == 0 {
			return fmt.Errorf("count(*) missing from the answer")
		}
		count, err = column.GetAsInt64(0)
		return err
	})
	return count, err
}

// Ping checks that Milvus answers and the collection exists.
func (s *Store) Ping(ctx context.Context) error {
	return s.call(ctx, "ping", func(ctx context.Context, c *milvusclient.Client) error {
		exists, err := c.HasCollection(ctx, milvusclient.NewHasCollectionOption(s.collection))
		if err == nil && !exists {
			return fmt.Errorf("collection %q does not exist yet (the index function creates it)", s.collection)
		}
		return err
	})
}

func (s *Store) search(ctx context.Context, operation string, run func(*milvusclient.Client) ([]milvusclient.ResultSet, error)) ([]Hit, error) {
	var hits []Hit
	err := s.call(ctx, operation, func(_ context.Context, c *milvusclient.Client) error {
		results, err := run(c)
		if err != nil {
			return err
		}
		if len(results) == 0 {
			return nil
		}
		hits, err = toHits(results[0])
		return err
	})
	return hits, err
}

// call runs one operation with the store's timeout; a failure drops the connection so the
// next call reconnects (the gRPC channel to a restarted server may be stuck).
func (s *Store) call(ctx context.Context, operation string, run func(context.Context, *milvusclient.Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	started := time.Now()
	defer func() { s.observe(operation, time.Since(started)) }()
	client, err := s.connect(ctx)
	if err != nil {
		return fmt.Errorf("%w: connect: %v", ErrUnavailable, err)
	}
	if !s.verified.Load() {
		if err := s.verify(ctx, client); err != nil {
			return err
		}
	}
	err = run(ctx, client)
	if err != nil && notLoaded(err) {
		// A restarted milvus-lite (or a collection released by an operator) must be loaded
		// again before it can be searched; loading is idempotent, so do it and retry once.
		var task milvusclient.LoadTask
		if task, err = client.LoadCollection(ctx, milvusclient.NewLoadCollectionOption(s.collection)); err == nil {
			if err = task.Await(ctx); err == nil {
				err = run(ctx, client)
			}
		}
	}
	if err != nil {
		if !transient(ctx, err) {
			return fmt.Errorf("%w: %s: %v", ErrRejected, operation, err)
		}
		s.reset(client)
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, operation, err)
	}
	return nil
}

func notLoaded(err error) bool {
	message := strings.ToLower(err.Error())
	return strings.Contains(message, "released") || strings.Contains(message, "not loaded") ||
		strings.Contains(message, "call load()")
}

// transient says whether an error means Milvus could not be reached or did not answer in
// time (worth a retry, and a new connection) rather than an answer refusing the request.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if s, ok := status.FromError(e); ok {
			switch s.Code() {
			case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted:
				return true
			}
		}
	}
	message := err.Error()
	return strings.Contains(message, "connection refused") || strings.Contains(message, "Unavailable")
}

// verify compares the embedder recorded in the collection with the store's, once.
func (s *Store) verify(ctx context.Context, client *milvusclient.Client) error {
	collection, err := client.DescribeCollection(ctx, milvusclient.NewDescribeCollectionOption(s.collection))
	if err != nil {
		if transient(ctx, err) {
			s.reset(client)
			return fmt.Errorf("%w: describe: %v", ErrUnavailable, err)
		}
		return nil // no collection yet: nothing to search, nothing to compare
	}
	var recorded embed.Identity
	if err := json.Unmarshal([]byte(collection.Properties[embedderProperty]), &recorded); err != nil {
		return fmt.Errorf("%w: collection %s does not record its embedder (property %s)",
			ErrEmbedderMismatch, s.collection, embedderProperty)
	}
	want := s.embedder
	if !recorded.Matches(want) {
		return fmt.Errorf("%w: collection %s holds vectors of %+v but searchapi embeds queries with %+v",
			ErrEmbedderMismatch, s.collection, recorded, want)
	}
	s.verified.Store(true)
	return nil
}

func (s *Store) connect(ctx context.Context) (*milvusclient.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	config := s.config
	client, err := milvusclient.New(ctx, &config)
	if err != nil {
		return nil, err
	}
	s.client = client
	return client, nil
}

func (s *Store) reset(failed *milvusclient.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == failed {
		_ = failed.Close(context.Background())
		s.client = nil
	}
}

func toHits(result milvusclient.ResultSet) ([]Hit, error) {
	if result.Err != nil {
		return nil, result.Err
	}
	hits := make([]Hit, result.ResultCount)
	for i := range hits {
		hit := &hits[i]
		hit.Score = result.Scores[i]
		var err error
		if hit.ChunkID, err = stringAt(result.GetColumn("chunk_id"), i); err != nil {
			return nil, err
		}
		if hit.DocumentID, err = stringAt(result.GetColumn("doc_id"), i); err != nil {
			return nil, err
		}
		if hit.Title, err = stringAt(result.GetColumn("title"), i); err != nil {
			return nil, err
		}
		if hit.Text, err = stringAt(result.GetColumn("text"), i); err != nil {
			return nil, err
		}
		if chunk := result.GetColumn("chunk"); chunk != nil {
			if hit.Chunk, err = chunk.GetAsInt64(i); err != nil {
				return nil, err
			}
		}
		hit.Metadata = json.RawMessage("{}")
		if metadata := result.GetColumn("metadata"); metadata != nil {
			value, err := metadata.Get(i)
			if err != nil {
				return nil, err
			}
			if raw, ok := value.([]byte); ok && json.Valid(raw) {
				hit.Metadata = raw
			}
		}
	}
	return hits, nil
}

func stringAt(c column.Column, i int) (string, error) {
	if c == nil {
		return "", nil
	}
	return c.GetAsString(i)
}
