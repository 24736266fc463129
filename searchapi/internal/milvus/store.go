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

// refreshEvery is how long searchapi keeps the collection an alias names before asking
// Milvus again: after a model switch, searches move to the new collection (and its model)
// within this time, each search reading one collection only.
const refreshEvery = 500 * time.Millisecond

// Store runs searches against the collection an alias names. Its errors wrap search's
// sentinels: search.ErrMilvusUnavailable (unreachable, too slow), search.ErrRejected (an
// answer refusing the request), search.ErrEmbedderMismatch and search.ErrAnalyzerMismatch.
type Store struct {
	config   milvusclient.ClientConfig
	alias    string
	analyzer analysis.Identity
	timeout  time.Duration
	observe  Observer
	// records holds what each collection records (name -> recorded), once read.
	records sync.Map
	// current is the collection the alias named when last asked, and when that was.
	current   atomic.Pointer[resolved]
	resolving sync.Mutex

	mu     sync.Mutex
	client *milvusclient.Client
}

// resolved is the collection an alias named at a moment.
type resolved struct {
	collection search.Collection
	at         time.Time
}

var _ search.Chunks = (*Store)(nil)

// New returns a store for the collections the alias names (a collection's own name works
// too); it connects on first use. Dense searches are checked against the embedder the
// collection records, text searches against the analyser the searches' terms were made with.
func New(uri, token, alias string, analyzer analysis.Identity, timeout time.Duration, observe Observer) *Store {
	if observe == nil {
		observe = func(string, time.Duration) {}
	}
	return &Store{
		config:   milvusclient.ClientConfig{Address: uri, APIKey: token},
		alias:    alias,
		analyzer: analyzer,
		timeout:  timeout,
		observe:  observe,
	}
}

// Current is the collection the alias names, and the embedder of its vectors (read again
// after refreshEvery); Name "" while neither the alias nor a collection of its name exists.
func (s *Store) Current(ctx context.Context) (search.Collection, error) {
	if c := s.current.Load(); c != nil && time.Since(c.at) < refreshEvery {
		return c.collection, nil
	}
	// One search asks Milvus; while it does, the others go on with the last answer (a Milvus
	// that hangs costs them nothing more than it costs the one asking).
	stale := s.current.Load()
	if stale != nil && !s.resolving.TryLock() {
		return stale.collection, nil
	}
	if stale == nil {
		s.resolving.Lock()
	}
	defer s.resolving.Unlock()
	if c := s.current.Load(); c != nil && time.Since(c.at) < refreshEvery {
		return c.collection, nil
	}
	var collection search.Collection
	err := s.call(ctx, "resolve", "", func(ctx context.Context, c *milvusclient.Client) error {
		name, err := s.aliased(ctx, c)
		if err != nil || name == "" {
			return err
		}
		record, err := s.record(ctx, c, name)
		if err != nil {
			return err
		}
		collection = search.Collection{Name: name, Embedder: record.embedder}
		return nil
	})
	if err != nil {
		return search.Collection{}, err
	}
	s.current.Store(&resolved{collection: collection, at: time.Now()})
	return collection, nil
}

// aliased is the collection the alias names ("" if there is none).
func (s *Store) aliased(ctx context.Context, c *milvusclient.Client) (string, error) {
	alias, err := c.DescribeAlias(ctx, milvusclient.NewDescribeAliasOption(s.alias))
	if err == nil {
		return alias.CollectionName, nil
	}
	if transient(ctx, err) {
		return "", err
	}
	exists, err := c.HasCollection(ctx, milvusclient.NewHasCollectionOption(s.alias))
	if err != nil || !exists {
		return "", err
	}
	return s.alias, nil // a collection named as the alias (no alias)
}

// name is the collection a scope reads: the one its search resolved, else the alias.
func (s *Store) name(scope search.Scope) string {
	if name := scope.Collection(); name != "" {
		return name
	}
	return s.alias
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
	option := milvusclient.NewSearchOption(s.name(scope), page.Limit, []entity.Vector{entity.FloatVector(vector.Values)}).
		WithANNSField("dense").WithFilter(scope.Expression()).WithOffset(page.Offset).WithOutputFields(outputFields...)
	return s.search(ctx, "search_dense", s.name(scope), check{embedder: &vector.Embedder}, option)
}

// Text returns the chunks that best match the terms by BM25 (Milvus tokenises them), with
// their BM25 scores (positive, higher is better).
func (s *Store) Text(ctx context.Context, scope search.Scope, terms string, page search.Page) ([]search.Hit, error) {
	option := milvusclient.NewSearchOption(s.name(scope), page.Limit, []entity.Vector{entity.Text(terms)}).
		WithANNSField("sparse").WithSearchParam("metric_type", "BM25").WithFilter(scope.Expression()).
		WithOffset(page.Offset).WithOutputFields(outputFields...)
	hits, err := s.search(ctx, "search_text", s.name(scope), check{analysed: true}, option)
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
	err := s.call(ctx, "count", s.name(scope), func(ctx context.Context, c *milvusclient.Client) error {
		result, err := c.Query(ctx, milvusclient.NewQueryOption(s.name(scope)).
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
	err := s.call(ctx, "query_rows", s.name(scope), func(ctx context.Context, c *milvusclient.Client) error {
		result, err := c.Query(ctx, milvusclient.NewQueryOption(s.name(scope)).
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
	return s.call(ctx, "ping", "", func(ctx context.Context, c *milvusclient.Client) error {
		name, err := s.aliased(ctx, c)
		if err == nil && name == "" {
			return fmt.Errorf("collection %q does not exist yet (the index function creates it)", s.alias)
		}
		return err
	})
}

func (s *Store) search(ctx context.Context, operation, collection string, want check,
	option milvusclient.SearchOption,
) ([]search.Hit, error) {
	var hits []search.Hit
	err := s.call(ctx, operation, collection, func(ctx context.Context, c *milvusclient.Client) error {
		if err := s.checkCollection(ctx, c, collection, want); err != nil {
			return err
		}
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

// call runs one operation with the store's timeout; a failure drops the connection so the
// next call reconnects (the gRPC channel to a restarted server may be stuck).
func (s *Store) call(ctx context.Context, operation, collection string,
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
	err = run(ctx, client)
	if errors.Is(err, search.ErrEmbedderMismatch) || errors.Is(err, search.ErrAnalyzerMismatch) {
		return err // the collection's records refuse the call
	}
	if err != nil && collection != "" && notLoaded(err) {
		// A restarted milvus-lite (or a collection released by an operator) must be loaded
		// again before it can be searched; loading is idempotent, so do it and retry once.
		var task milvusclient.LoadTask
		if task, err = client.LoadCollection(ctx, milvusclient.NewLoadCollectionOption(collection)); err == nil {
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

// check is what a search needs its collection to record: the embedder whose vectors it
// compares (nil: none), and (analysed) the analyser that made its terms.
type check struct {
	embedder *embed.Identity
	analysed bool
}

// recorded is what a collection records of how it was built.
type recorded struct {
	embedder embed.Identity
	analyzer *analysis.Identity // nil: not recorded (built by an older Sluice)
}

// checkCollection compares what the collection records with what the search needs. A record is
// read once per collection and kept while it matches; after a mismatch it is read again on the
// next call, so a collection rebuilt for the right embedder is searched without a restart.
func (s *Store) checkCollection(ctx context.Context, client *milvusclient.Client, name string, want check) error {
	record, err := s.record(ctx, client, name)
	if err != nil {
		return err
	}
	if want.embedder != nil && !record.embedder.Matches(*want.embedder) {
		s.records.Delete(name)
		return fmt.Errorf("%w: collection %s holds vectors of %+v but the query was embedded with %+v",
			search.ErrEmbedderMismatch, name, record.embedder, *want.embedder)
	}
	if want.analysed && (record.analyzer == nil || *record.analyzer != s.analyzer) {
		s.records.Delete(name)
		if record.analyzer == nil {
			return fmt.Errorf("%w: collection %s does not record its text analyser (property %s): "+
				"it was built by an older Sluice; index the documents again", search.ErrAnalyzerMismatch, name, analyzerProperty)
		}
		return fmt.Errorf("%w: collection %s's text was analysed as %+v but searchapi analyses queries as %+v",
			search.ErrAnalyzerMismatch, name, *record.analyzer, s.analyzer)
	}
	return nil
}

// record is what the collection records (read once, then kept).
func (s *Store) record(ctx context.Context, client *milvusclient.Client, name string) (recorded, error) {
	if record, ok := s.records.Load(name); ok {
		return record.(recorded), nil
	}
	collection, err := client.DescribeCollection(ctx, milvusclient.NewDescribeCollectionOption(name))
	if err != nil {
		if transient(ctx, err) {
			return recorded{}, fmt.Errorf("%w: describe: %w", search.ErrMilvusUnavailable, err)
		}
		return recorded{}, fmt.Errorf("%w: describe %s: %w", search.ErrRejected, name, err)
	}
	var record recorded
	if err := json.Unmarshal([]byte(collection.Properties[embedderProperty]), &record.embedder); err != nil {
		return recorded{}, fmt.Errorf("%w: collection %s does not record its embedder (property %s)",
			search.ErrEmbedderMismatch, name, embedderProperty)
	}
	var analyzer analysis.Identity
	if err := json.Unmarshal([]byte(collection.Properties[analyzerProperty]), &analyzer); err == nil {
		record.analyzer = &analyzer
	}
	s.records.Store(name, record)
	return record, nil
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
