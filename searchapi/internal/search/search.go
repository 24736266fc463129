// Package search is the search service's logic: it validates a request, builds the tenant's
// filter, embeds the query when the mode needs it and asks the chunk store.
package search

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"sluice.dev/searchapi/internal/embed"
	"sluice.dev/searchapi/internal/milvus"
)

// Modes of search.
const (
	ModeHybrid = "hybrid"
	ModeDense  = "dense"
	ModeText   = "text"
)

// Error is a bad request: its code and message go back to the client as a 400.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func invalid(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrEmbedder wraps failures of the query embedder.
var ErrEmbedder = errors.New("embedder failed")

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
	Hits   []milvus.Hit `json:"hits"`
	Mode   string       `json:"mode"`
	K      int          `json:"k"`
	Offset int          `json:"offset"`
	TookMS float64      `json:"took_ms"`
}

// Chunks is the store the service searches.
type Chunks interface {
	Dense(ctx context.Context, vector []float32, filter string, limit, offset int) ([]milvus.Hit, error)
	Text(ctx context.Context, query, filter string, limit, offset int) ([]milvus.Hit, error)
	Hybrid(ctx context.Context, vector []float32, query, filter string, limit, offset, candidates int) ([]milvus.Hit, error)
}

// Limits bound what a request may ask for.
type Limits struct {
	DefaultK      int
	MaxK          int
	MaxOffset     int
	MaxQueryChars int
	Candidates    int
}

// Service answers searches.
type Service struct {
	chunks   Chunks
	embedder embed.Embedder
	limits   Limits
}

// NewService wires a service.
func NewService(chunks Chunks, embedder embed.Embedder, limits Limits) *Service {
	return &Service{chunks: chunks, embedder: embedder, limits: limits}
}

// Search validates the request and runs it for the request's tenant (set by the caller from
// the credentials, never trusted from elsewhere).
func (s *Service) Search(ctx context.Context, req Request) (*Response, error) {
	started := time.Now()
	k, offset, err := s.validate(&req)
	if err != nil {
		return nil, err
	}
	expr, err := req.Filter.Expression(req.Tenant)
	if err != nil {
		return nil, err
	}
	var hits []milvus.Hit
	switch req.Mode {
	case ModeText:
		hits, err = s.chunks.Text(ctx, req.Query, expr, k, offset)
	case ModeDense:
		var vector []float32
		if vector, err = s.embed(ctx, req.Query); err == nil {
			hits, err = s.chunks.Dense(ctx, vector, expr, k, offset)
		}
	default:
		var vector []float32
		if vector, err = s.embed(ctx, req.Query); err == nil {
			candidates := max(s.limits.Candidates, k+offset)
			hits, err = s.chunks.Hybrid(ctx, vector, req.Query, expr, k, offset, candidates)
		}
	}
	if err != nil {
		return nil, err
	}
	if req.MinScore != nil {
		hits = aboveScore(hits, *req.MinScore)
	}
	if hits == nil {
		hits = []milvus.Hit{}
	}
	return &Response{Hits: hits, Mode: req.Mode, K: k, Offset: offset,
		TookMS: float64(time.Since(started).Microseconds()) / 1000}, nil
}

func (s *Service) validate(req *Request) (k, offset int, err error) {
	req.Query = strings.TrimSpace(req.Query)
	if req.Query == "" {
		return 0, 0, invalid("invalid_query", "the query is empty")
	}
	if !utf8.ValidString(req.Query) {
		return 0, 0, invalid("invalid_query", "the query is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(req.Query); n > s.limits.MaxQueryChars {
		return 0, 0, invalid("invalid_query", "the query has %d characters; the limit is %d", n, s.limits.MaxQueryChars)
	}
	if req.Mode == "" {
		req.Mode = ModeHybrid
	}
	if req.Mode != ModeHybrid && req.Mode != ModeDense && req.Mode != ModeText {
		return 0, 0, invalid("invalid_mode", "mode %q is not one of hybrid, dense, text", req.Mode)
	}
	k = s.limits.DefaultK
	if req.K != nil {
		k = *req.K
	}
	if k < 1 || k > s.limits.MaxK {
		return 0, 0, invalid("invalid_k", "k must be between 1 and %d", s.limits.MaxK)
	}
	if req.Offset != nil {
		offset = *req.Offset
	}
	if offset < 0 || offset > s.limits.MaxOffset {
		return 0, 0, invalid("invalid_offset", "offset must be between 0 and %d", s.limits.MaxOffset)
	}
	return k, offset, nil
}

func (s *Service) embed(ctx context.Context, query string) ([]float32, error) {
	vectors, err := s.embedder.Embed(ctx, []string{query})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEmbedder, err)
	}
	if len(vectors) != 1 {
		return nil, fmt.Errorf("%w: %d vectors for one query", ErrEmbedder, len(vectors))
	}
	return vectors[0], nil
}

func aboveScore(hits []milvus.Hit, minimum float64) []milvus.Hit {
	kept := hits[:0]
	for _, hit := range hits {
		if float64(hit.Score) >= minimum {
			kept = append(kept, hit)
		}
	}
	return kept
}
