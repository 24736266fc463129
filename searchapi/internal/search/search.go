// Package search is the search service's logic and the words it speaks: it validates a
// request, builds the tenant's scope, embeds the query when the mode needs it and asks the
// chunk store; it looks documents up in the record store. The stores and the embedder are
// small interfaces declared here; their adapters return this package's types and wrap their
// errors in its sentinels (errors.go).
package search

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

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
}

// Response is what a search found.
type Response struct {
	Hits   []Hit   `json:"hits"`
	Mode   string  `json:"mode"`
	K      int     `json:"k"`
	Offset int     `json:"offset"`
	TookMS float64 `json:"took_ms"`
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
}

// Citation is where in its file a chunk came from: its pages (null for formats without
// pages) and the heading path of its section ("" if none).
type Citation struct {
	Page    *int64 `json:"page"`
	PageEnd *int64 `json:"page_end"`
	Section string `json:"section"`
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

// Chunks is the store the service searches and counts (Milvus).
type Chunks interface {
	Dense(ctx context.Context, scope Scope, vector Vector, page Page) ([]Hit, error)
	Text(ctx context.Context, scope Scope, text string, page Page) ([]Hit, error)
	// Hybrid fuses a dense and a text search of `candidates` hits each.
	Hybrid(ctx context.Context, scope Scope, vector Vector, text string, page Page, candidates int) ([]Hit, error)
	Count(ctx context.Context, scope Scope) (int64, error)
	// Rows returns at most limit chunks of the scope, in no particular order.
	Rows(ctx context.Context, scope Scope, limit int) ([]Chunk, error)
}

// Records is the store of document records (Redis); Get fails with ErrNotFound for an
// unknown document.
type Records interface {
	Get(ctx context.Context, tenant, id string) (Record, error)
}

// Embedder embeds queries; Identity says which embedder made the last vectors.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Identity() embed.Identity
}

// Limits bound what a request may ask for.
type Limits struct {
	DefaultK      int
	MaxK          int
	MaxOffset     int
	MaxQueryChars int
	Candidates    int
}

// Service answers searches and document lookups.
type Service struct {
	chunks   Chunks
	records  Records
	embedder Embedder
	limits   Limits
}

// NewService wires a service.
func NewService(chunks Chunks, records Records, embedder Embedder, limits Limits) *Service {
	return &Service{chunks: chunks, records: records, embedder: embedder, limits: limits}
}

// Search validates the request and runs it for the request's tenant (set by the caller from
// the credentials, never trusted from elsewhere).
func (s *Service) Search(ctx context.Context, req Request) (*Response, error) {
	started := time.Now()
	page, err := s.validate(&req)
	if err != nil {
		return nil, err
	}
	scope, err := req.Filter.Scope(req.Tenant)
	if err != nil {
		return nil, err
	}
	var hits []Hit
	switch req.Mode {
	case ModeText:
		hits, err = s.chunks.Text(ctx, scope, req.Query, page)
	case ModeDense:
		var vector Vector
		if vector, err = s.embed(ctx, req.Query); err == nil {
			hits, err = s.chunks.Dense(ctx, scope, vector, page)
		}
	default:
		var vector Vector
		if vector, err = s.embed(ctx, req.Query); err == nil {
			candidates := max(s.limits.Candidates, page.Limit+page.Offset)
			hits, err = s.chunks.Hybrid(ctx, scope, vector, req.Query, page, candidates)
		}
	}
	if err != nil {
		return nil, err
	}
	if req.MinScore != nil {
		hits = aboveScore(hits, *req.MinScore)
	}
	if hits == nil {
		hits = []Hit{}
	}
	return &Response{Hits: hits, Mode: req.Mode, K: page.Limit, Offset: page.Offset,
		TookMS: float64(time.Since(started).Microseconds()) / 1000}, nil
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
	return page, nil
}

// embed embeds the query; the identity is read after embedding, as an endpoint reports its
// own with its answers.
func (s *Service) embed(ctx context.Context, query string) (Vector, error) {
	vectors, err := s.embedder.Embed(ctx, []string{query})
	if err != nil {
		return Vector{}, fmt.Errorf("%w: %w", ErrEmbedderUnavailable, err)
	}
	if len(vectors) != 1 {
		return Vector{}, fmt.Errorf("%w: %d vectors for one query", ErrEmbedderUnavailable, len(vectors))
	}
	return Vector{Values: vectors[0], Embedder: s.embedder.Identity()}, nil
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
