// Package milvus is the search service's adapter to Milvus: dense and full-text (BM25)
// searches and counts on the chunk collection, with the connection made lazily
// and remade after failures, so the service starts and recovers while Milvus is down.
package milvus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sluice.dev/searchapi/internal/analysis"
	"sluice.dev/searchapi/internal/embed"
	"sluice.dev/searchapi/internal/search"
)

// The collection properties where the index function records its embedder and the analyser
// its BM25 field's text went through.
const (
	embedderProperty = "sluice.embedder"
	analyzerProperty = "sluice.analyzer"
)

// Fields read back with every hit (naming them keeps vectors out of the answer).
var outputFields = []string{"chunk_id", "doc_id", "chunk", "title", "text", "metadata", "page", "page_end", "section"}

// Observer is told how long each Milvus operation took.
type Observer func(operation string, took time.Duration)

// Store runs searches against one collection (or alias). Its errors wrap search's sentinels:
// search.ErrMilvusUnavailable (unreachable, too slow), search.ErrRejected (an answer refusing
// the request), search.ErrEmbedderMismatch and search.ErrAnalyzerMismatch.
type Store struct {
	config     milvusclient.ClientConfig
	collection string
	configured embed.Identity
	analyzer   analysis.Identity
	timeout    time.Duration
	observe    Observer
	// recorded is what the collection records, once read.
	recorded atomic.Pointer[recorded]

	mu     sync.Mutex
	client *milvusclient.Client
}

var _ search.Chunks = (*Store)(nil)

// New returns a store for the collection (or alias); it connects on first use. Dense and
// hybrid searches are checked against the identity of the embedder that embedded their
// vector; text searches, counts and pings against `configured`, the embedder the
// configuration names (whose version may be unknown). Text searches are also checked against
// the analyser the searches' terms were made with.
func New(uri, token, collection string, configured embed.Identity, analyzer analysis.Identity,
	timeout time.Duration, observe Observer,
) *Store {
	if observe == nil {
		observe = func(string, time.Duration) {}
	}
	return &Store{
		config:     milvusclient.ClientConfig{Address: uri, APIKey: token},
		collection: collection,
		configured: configured,
		analyzer:   analyzer,
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

// Dense returns the chunks nearest to the vector (cosine similarity, higher is nearer).
func (s *Store) Dense(ctx context.Context, scope search.Scope, vector search.Vector, page search.Page) ([]search.Hit, error) {
	option := milvusclient.NewSearchOption(s.collection, page.Limit, []entity.Vector{entity.FloatVector(vector.Values)}).
		WithANNSField("dense").WithFilter(scope.Expression()).WithOffset(page.Offset).WithOutputFields(outputFields...)
	return s.search(ctx, "search_dense", vector.Embedder, false, option)
}

// Text returns the chunks that best match the terms by BM25 (Milvus tokenises them), with
// their BM25 scores (positive, higher is better).
func (s *Store) Text(ctx context.Context, scope search.Scope, terms string, page search.Page) ([]search.Hit, error) {
	option := milvusclient.NewSearchOption(s.collection, page.Limit, []entity.Vector{entity.Text(terms)}).
		WithANNSField("sparse").WithSearchParam("metric_type", "BM25").WithFilter(scope.Expression()).
		WithOffset(page.Offset).WithOutputFields(outputFields...)
	hits, err := s.search(ctx, "search_text", s.configured, true, option)
	for i := range hits {
		// milvus-lite answers BM25 scores negated (Milvus does not): a BM25 score is never
		// negative, so this is the one place that undoes it.
		hits[i].Score = float32(math.Abs(float64(hits[i].Score)))
	}
	return hits, err
}

// Count returns how many chunks the scope holds.
func (s *Store) Count(ctx context.Context, scope search.Scope) (int64, error) {
	var count int64
	err := s.call(ctx, "count", check{embedder: s.configured}, func(ctx context.Context, c *milvusclient.Client) error {
		result, err := c.Query(ctx, milvusclient.NewQueryOption(s.collection).
			WithFilter(scope.Expression()).WithOutputFields("count(*)"))
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

// Rows returns at most limit chunks of the scope (no vectors).
func (s *Store) Rows(ctx context.Context, scope search.Scope, limit int) ([]search.Chunk, error) {
	var chunks []search.Chunk
	err := s.call(ctx, "query_rows", check{embedder: s.configured}, func(ctx context.Context, c *milvusclient.Client) error {
		result, err := c.Query(ctx, milvusclient.NewQueryOption(s.collection).
			WithFilter(scope.Expression()).WithLimit(limit).
			WithOutputFields("chunk", "title", "text", "version", "metadata", "page", "page_end", "section"))
		if err != nil {
			return err
		}
		chunks = make([]search.Chunk, result.ResultCount)
		for i := range chunks {
			chunk := &chunks[i]
			if column := result.GetColumn("chunk"); column != nil {
				if chunk.Chunk, err = column.GetAsInt64(i); err != nil {
					return err
				}
			}
			if chunk.Title, err = stringAt(result.GetColumn("title"), i); err != nil {
				return err
			}
			if chunk.Text, err = stringAt(result.GetColumn("text"), i); err != nil {
				return err
			}
			if chunk.Version, err = stringAt(result.GetColumn("version"), i); err != nil {
				return err
			}
			if chunk.Metadata, err = metadataAt(result.GetColumn("metadata"), i); err != nil {
				return err
			}
			if chunk.Citation, err = citationAt(result, i); err != nil {
				return err
			}
		}
		return nil
	})
	return chunks, err
}

// Ping checks that Milvus answers and the collection exists.
func (s *Store) Ping(ctx context.Context) error {
	return s.call(ctx, "ping", check{embedder: s.configured}, func(ctx context.Context, c *milvusclient.Client) error {
		exists, err := c.HasCollection(ctx, milvusclient.NewHasCollectionOption(s.collection))
		if err == nil && !exists {
			return fmt.Errorf("collection %q does not exist yet (the index function creates it)", s.collection)
		}
		return err
	})
}

func (s *Store) search(ctx context.Context, operation string, embedder embed.Identity, analysed bool,
	option milvusclient.SearchOption,
) ([]search.Hit, error) {
	var hits []search.Hit
	err := s.call(ctx, operation, check{embedder: embedder, analysed: analysed}, func(ctx context.Context, c *milvusclient.Client) error {
		results, err := c.Search(ctx, option) // ctx bounded by the store's timeout
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

// call runs one operation with the store's timeout, once the collection's vectors are known
// to be comparable with the embedder's; a failure drops the connection so the next call
// reconnects (the gRPC channel to a restarted server may be stuck).
func (s *Store) call(ctx context.Context, operation string, want check,
	run func(context.Context, *milvusclient.Client) error,
) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	started := time.Now()
	defer func() { s.observe(operation, time.Since(started)) }()
	client, err := s.connect(ctx)
	if err != nil {
		return fmt.Errorf("%w: connect: %w", search.ErrMilvusUnavailable, err)
	}
	if err := s.checkCollection(ctx, client, want); err != nil {
		return err
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
			return fmt.Errorf("%w: %s: %w", search.ErrRejected, operation, err)
		}
		s.reset(client)
		return fmt.Errorf("%w: %s: %w", search.ErrMilvusUnavailable, operation, err)
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

// check is what a call needs the collection to record: the embedder whose vectors it
// compares, and (analysed) the analyser that made its terms.
type check struct {
	embedder embed.Identity
	analysed bool
}

// recorded is what a collection records of how it was built.
type recorded struct {
	embedder embed.Identity
	analyzer *analysis.Identity // nil: not recorded (built by an older Sluice)
}

// checkCollection compares what the collection records with what the call needs. The record
// is read once and kept while it matches; after a mismatch it is read again on the next call,
// so a collection rebuilt (or an alias switched) for the right embedder is searched without a
// restart.
func (s *Store) checkCollection(ctx context.Context, client *milvusclient.Client, want check) error {
	record := s.recorded.Load()
	if record == nil {
		read, exists, err := s.readRecord(ctx, client)
		if err != nil || !exists {
			return err // no collection yet: nothing to search, nothing to compare
		}
		record = &read
		s.recorded.Store(record)
	}
	if !record.embedder.Matches(want.embedder) {
		s.recorded.CompareAndSwap(record, nil)
		return fmt.Errorf("%w: collection %s holds vectors of %+v but searchapi embeds queries with %+v",
			search.ErrEmbedderMismatch, s.collection, record.embedder, want.embedder)
	}
	if want.analysed && (record.analyzer == nil || *record.analyzer != s.analyzer) {
		s.recorded.CompareAndSwap(record, nil)
		if record.analyzer == nil {
			return fmt.Errorf("%w: collection %s does not record its text analyser (property %s): "+
				"it was built by an older Sluice; index the documents again", search.ErrAnalyzerMismatch, s.collection, analyzerProperty)
		}
		return fmt.Errorf("%w: collection %s's text was analysed as %+v but searchapi analyses queries as %+v",
			search.ErrAnalyzerMismatch, s.collection, *record.analyzer, s.analyzer)
	}
	return nil
}

// readRecord reads what the collection records, if the collection exists.
func (s *Store) readRecord(ctx context.Context, client *milvusclient.Client) (recorded, bool, error) {
	collection, err := client.DescribeCollection(ctx, milvusclient.NewDescribeCollectionOption(s.collection))
	if err != nil {
		if transient(ctx, err) {
			s.reset(client)
			return recorded{}, false, fmt.Errorf("%w: describe: %w", search.ErrMilvusUnavailable, err)
		}
		return recorded{}, false, nil
	}
	var record recorded
	if err := json.Unmarshal([]byte(collection.Properties[embedderProperty]), &record.embedder); err != nil {
		return recorded{}, true, fmt.Errorf("%w: collection %s does not record its embedder (property %s)",
			search.ErrEmbedderMismatch, s.collection, embedderProperty)
	}
	var analyzer analysis.Identity
	if err := json.Unmarshal([]byte(collection.Properties[analyzerProperty]), &analyzer); err == nil {
		record.analyzer = &analyzer
	}
	return record, true, nil
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

func toHits(result milvusclient.ResultSet) ([]search.Hit, error) {
	if result.Err != nil {
		return nil, result.Err
	}
	hits := make([]search.Hit, result.ResultCount)
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
		if hit.Metadata, err = metadataAt(result.GetColumn("metadata"), i); err != nil {
			return nil, err
		}
		if hit.Citation, err = citationAt(result, i); err != nil {
			return nil, err
		}
	}
	return hits, nil
}

// metadataAt is the JSON metadata of row i ({} when absent or not JSON).
func metadataAt(c column.Column, i int) (json.RawMessage, error) {
	if c == nil {
		return json.RawMessage("{}"), nil
	}
	value, err := c.Get(i)
	if err != nil {
		return nil, err
	}
	if raw, ok := value.([]byte); ok && json.Valid(raw) {
		return raw, nil
	}
	return json.RawMessage("{}"), nil
}

// citationAt is row i's pages (nil when 0: no pages) and section.
func citationAt(result milvusclient.ResultSet, i int) (search.Citation, error) {
	var citation search.Citation
	for name, page := range map[string]**int64{"page": &citation.Page, "page_end": &citation.PageEnd} {
		if c := result.GetColumn(name); c != nil {
			number, err := c.GetAsInt64(i)
			if err != nil {
				return citation, err
			}
			if number > 0 {
				*page = &number
			}
		}
	}
	section, err := stringAt(result.GetColumn("section"), i)
	citation.Section = section
	return citation, err
}

func stringAt(c column.Column, i int) (string, error) {
	if c == nil {
		return "", nil
	}
	return c.GetAsString(i)
}
