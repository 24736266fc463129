// Package search is the search service's logic and the words it speaks: it validates a
// request, builds the tenant's scope, embeds the query when the mode needs it and asks the
// chunk store; it looks documents up in the record store. The stores and the embedder are
// small interfaces declared here; their adapters return this package's types and wrap their
// errors in its sentinels (errors.go).
package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"sluice.dev/searchapi/internal/analysis"
	"sluice.dev/searchapi/internal/embed"
)

// Modes of search.
const (
	ModeHybrid = "hybrid"
	ModeDense  = "dense"
	ModeText   = "text"
)

// Request is one search.
type Request struct {
	Query    string   `json:"query"`
	K        *int     `json:"k,omitempty"`
	Mode     string   `json:"mode,omitempty"`
	Offset   *int     `json:"offset,omitempty"`
	Tenant   string   `json:"tenant,omitempty"`
	Filter   Filter   `json:"filter"`
	MinScore *float64 `json:"min_score,omitempty"`
	// GroupBy "document" returns at most one hit per document (its best chunk).
	GroupBy string  `json:"group_by,omitempty"`
	Fusion  *Fusion `json:"fusion,omitempty"`
}

// Response is what a search found.
type Response struct {
	Hits   []Hit   `json:"hits"`
	Mode   string  `json:"mode"`
	K      int     `json:"k"`
	Offset int     `json:"offset"`
	TookMS float64 `json:"took_ms"`
	// Embedder is the model of the collection searched (queries were embedded with it);
	// absent while nothing is indexed.
	Embedder *embed.Identity `json:"embedder,omitempty"`
}

// Hit is one chunk found by a search.
type Hit struct {
	ChunkID    string          `json:"chunk_id"`
	DocumentID string          `json:"document_id"`
	Chunk      int64           `json:"chunk"`
	Score      float32         `json:"score"`
	Title      string          `json:"title"`
	Text       string          `json:"text"`
	Metadata   json.RawMessage `json:"metadata"`
	Citation
	// Highlights are the words of Text that match the query's terms.
	Highlights []Span   `json:"highlights"`
	Snippet    *Snippet `json:"snippet"`
	// Scores are a hybrid hit's scores in the dense and the text ranking (null where it was
	// not among that ranking's candidates).
	Scores *ModeScores `json:"scores,omitempty"`
	// MoreChunks (with group_by document) counts the document's other chunks among the
	// chunks that matched.
	MoreChunks *int `json:"more_chunks,omitempty"`
}

// ModeScores are a hybrid hit's scores in each ranking it was fused from.
type ModeScores struct {
	Dense *float32 `json:"dense"`
	Text  *float32 `json:"text"`
}

// Citation is where in its file a chunk came from: its pages (null for formats without
// pages) and the heading path of its section ("" if none).
type Citation struct {
	Page    *int64 `json:"page"`
	PageEnd *int64 `json:"page_end"`
	Section string `json:"section"`
}

// Collection is a physical chunk collection and the embedder of its vectors: the one the
// alias names at the moment a search starts, which all of the search reads.
type Collection struct {
	Name     string
	Embedder embed.Identity
}

// Vector is a query embedded, and the identity of the embedder that embedded it (which the
// store compares with the one its collection records).
type Vector struct {
	Values   []float32
	Embedder embed.Identity
}

// Page is which hits of a ranking to return: Limit of them after the first Offset.
type Page struct {
	Limit  int
	Offset int
}

// Chunks is the store the service searches and counts (Milvus). Searches return hits best
// first, with scores where higher is better (Dense: cosine similarity; Text: BM25).
type Chunks interface {
	// Current is the collection the alias names now (Name "" while none exists). A model
	// switch moves the alias; a search resolves it once and reads that collection only.
	Current(ctx context.Context) (Collection, error)
	Dense(ctx context.Context, scope Scope, vector Vector, page Page) ([]Hit, error)
	// Text ranks by BM25 against terms: the query as the analyser made it (stems, no stop
	// words), matched against the chunks' text analysed the same way when they were indexed.
	Text(ctx context.Context, scope Scope, terms string, page Page) ([]Hit, error)
	Count(ctx context.Context, scope Scope) (int64, error)
	// Rows returns at most limit chunks of the scope, in no particular order.
	Rows(ctx context.Context, scope Scope, limit int) ([]Chunk, error)
}

// Records is the store of document records (Redis); Get fails with ErrNotFound for an
// unknown document.
type Records interface {
	Get(ctx context.Context, tenant, id string) (Record, error)
}

// Embedder embeds queries with the embedder of an identity (the collection's); an answer of
// another build wraps embed.ErrMismatch.
type Embedder interface {
	Embed(ctx context.Context, identity embed.Identity, texts []string) ([][]float32, error)
}

// Limits bound what a request may ask for.
type Limits struct {
	DefaultK      int
	MaxK          int
	MaxOffset     int
	MaxQueryChars int
	// Candidates is how many hits hybrid search takes from each ranking before fusion (and
	// grouping from the ranking, at least).
	Candidates int
}

// maxDepth bounds how deep a grouped search reads a ranking to find its documents.
const maxDepth = 4096

// Service answers searches and document lookups.
type Service struct {
	chunks   Chunks
	records  Records
	embedder Embedder
	analyzer *analysis.Analyzer
	limits   Limits
}

// NewService wires a service; the analyser must be the one the collection's text was
// analysed with (the store checks the collection's record of it).
func NewService(chunks Chunks, records Records, embedder Embedder, analyzer *analysis.Analyzer, limits Limits) *Service {
	return &Service{chunks: chunks, records: records, embedder: embedder, analyzer: analyzer, limits: limits}
}

// query is a validated search: what to rank, how, and for whom.
type query struct {
	mode   string
	scope  Scope
	terms  string // the query analysed for full-text search ("" if only stop words)
	vector Vector
	fusion fusion
	min    *float64
}

// Search validates the request and runs it for the request's tenant (set by the caller from
// the credentials, never trusted from elsewhere).
func (s *Service) Search(ctx context.Context, req Request) (*Response, error) {
	started := time.Now()
	page, err := s.validate(&req)
	if err != nil {
		return nil, err
	}
	q := query{mode: req.Mode, terms: s.analyzer.Analyze(req.Query), min: req.MinScore}
	if q.fusion, err = req.Fusion.resolve(req.Mode); err != nil {
		return nil, err
	}
	if q.scope, err = req.Filter.Scope(req.Tenant); err != nil {
		return nil, err
	}
	collection, err := s.chunks.Current(ctx)
	if err != nil {
		return nil, err
	}
	q.scope = q.scope.In(collection)
	response := &Response{Hits: []Hit{}, Mode: req.Mode, K: page.Limit, Offset: page.Offset}
	if collection.Name == "" { // nothing indexed yet
		response.TookMS = float64(time.Since(started).Microseconds()) / 1000
		return response, nil
	}
	response.Embedder = &collection.Embedder
	if q.mode == ModeDense || q.mode == ModeHybrid && q.fusion.dense > 0 {
		if q.vector, err = s.embed(ctx, collection.Embedder, req.Query); err != nil {
			return nil, err
		}
	}
	var hits []Hit
	if req.GroupBy == GroupByDocument {
		hits, err = s.grouped(ctx, q, page)
	} else {
		hits, err = s.page(ctx, q, page)
	}
	if err != nil {
		return nil, err
	}
	marker := newHighlighter(s.analyzer, req.Query)
	for i := range hits {
		marker.mark(&hits[i])
	}
	if hits != nil {
		response.Hits = hits
	}
	response.TookMS = float64(time.Since(started).Microseconds()) / 1000
	return response, nil
}

// page is one page of the ranking.
func (s *Service) page(ctx context.Context, q query, page Page) ([]Hit, error) {
	if q.mode != ModeHybrid { // the store pages a single ranking itself
		hits, _, err := s.rank(ctx, q, page)
		return hits, err
	}
	hits, _, err := s.rank(ctx, q, Page{Limit: max(s.limits.Candidates, page.Offset+page.Limit)})
	return window(hits, page), err
}

// grouped is one page of the ranking's documents, each by its best chunk. It reads the
// ranking deeper (up to maxDepth) until it holds enough documents or ends.
func (s *Service) grouped(ctx context.Context, q query, page Page) ([]Hit, error) {
	depth := min(maxDepth, max(s.limits.Candidates, 4*(page.Offset+page.Limit)))
	for {
		hits, more, err := s.rank(ctx, q, Page{Limit: depth})
		if err != nil {
			return nil, err
		}
		documents := byDocument(hits)
		if len(documents) >= page.Offset+page.Limit || !more || depth == maxDepth {
			return window(documents, page), nil
		}
		depth = min(maxDepth, 2*depth)
	}
}

// rank returns the page of the mode's ranking (above the minimum score), and whether the
// ranking may go on after it.
func (s *Service) rank(ctx context.Context, q query, page Page) ([]Hit, bool, error) {
	var hits []Hit
	var err error
	more := false
	switch q.mode {
	case ModeDense:
		hits, err = s.chunks.Dense(ctx, q.scope, q.vector, page)
		more = len(hits) == page.Limit
	case ModeText:
		hits, err = s.text(ctx, q, page)
		more = len(hits) == page.Limit
	default:
		var dense, text []Hit
		dense, text, err = s.both(ctx, q, page)
		more = len(dense) == page.Limit || len(text) == page.Limit
		hits = q.fusion.fuse(dense, text)
	}
	if err != nil {
		return nil, false, err
	}
	sortHits(hits)
	if q.min != nil {
		hits = aboveScore(hits, *q.min)
	}
	return hits, more, nil
}

// both runs the dense and the text search of a hybrid query side by side (skipping one whose
// weight is 0).
func (s *Service) both(ctx context.Context, q query, page Page) (dense, text []Hit, err error) {
	textDone := make(chan error, 1)
	go func() {
		var err error
		if q.fusion.text > 0 {
			text, err = s.text(ctx, q, page)
		}
		textDone <- err
	}()
	if q.fusion.dense > 0 {
		dense, err = s.chunks.Dense(ctx, q.scope, q.vector, page)
	}
	textErr := <-textDone
	return dense, text, errors.Join(err, textErr)
}

// text is the full-text ranking; a query of stop words only matches nothing.
func (s *Service) text(ctx context.Context, q query, page Page) ([]Hit, error) {
	if q.terms == "" {
		return nil, nil
	}
	return s.chunks.Text(ctx, q.scope, q.terms, page)
}

func (s *Service) validate(req *Request) (Page, error) {
	req.Query = strings.TrimSpace(req.Query)
	if req.Query == "" {
		return Page{}, invalid("invalid_query", "the query is empty")
	}
	if !utf8.ValidString(req.Query) {
		return Page{}, invalid("invalid_query", "the query is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(req.Query); n > s.limits.MaxQueryChars {
		return Page{}, invalid("invalid_query", "the query has %d characters; the limit is %d", n, s.limits.MaxQueryChars)
	}
	if req.Mode == "" {
		req.Mode = ModeHybrid
	}
	if req.Mode != ModeHybrid && req.Mode != ModeDense && req.Mode != ModeText {
		return Page{}, invalid("invalid_mode", "mode %q is not one of hybrid, dense, text", req.Mode)
	}
	page := Page{Limit: s.limits.DefaultK}
	if req.K != nil {
		page.Limit = *req.K
	}
	if page.Limit < 1 || page.Limit > s.limits.MaxK {
		return Page{}, invalid("invalid_k", "k must be between 1 and %d", s.limits.MaxK)
	}
	if req.Offset != nil {
		page.Offset = *req.Offset
	}
	if page.Offset < 0 || page.Offset > s.limits.MaxOffset {
		return Page{}, invalid("invalid_offset", "offset must be between 0 and %d", s.limits.MaxOffset)
	}
	if req.GroupBy != "" && req.GroupBy != GroupByDocument {
		return Page{}, invalid("invalid_group_by", "group_by %q is not supported: use %q", req.GroupBy, GroupByDocument)
	}
	return page, nil
}

// embed embeds the query with the collection's embedder.
func (s *Service) embed(ctx context.Context, identity embed.Identity, query string) (Vector, error) {
	vectors, err := s.embedder.Embed(ctx, identity, []string{query})
	if errors.Is(err, embed.ErrMismatch) {
		return Vector{}, fmt.Errorf("%w: %w", ErrEmbedderMismatch, err)
	}
	if err != nil {
		return Vector{}, fmt.Errorf("%w: %w", ErrEmbedderUnavailable, err)
	}
	if len(vectors) != 1 {
		return Vector{}, fmt.Errorf("%w: %d vectors for one query", ErrEmbedderUnavailable, len(vectors))
	}
	return Vector{Values: vectors[0], Embedder: identity}, nil
}

func aboveScore(hits []Hit, minimum float64) []Hit {
	kept := hits[:0]
	for _, hit := range hits {
		if float64(hit.Score) >= minimum {
			kept = append(kept, hit)
		}
	}
	return kept
}
