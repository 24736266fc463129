package search

import (
	"context"
	"errors"
	"strings"
	"testing"

	"sluice.dev/searchapi/internal/embed"
	"sluice.dev/searchapi/internal/milvus"
)

// recordingChunks remembers the last call and answers with fixed hits.
type recordingChunks struct {
	mode, query, filter      string
	limit, offset, candidate int
	vector                   []float32
	hits                     []milvus.Hit
	err                      error
}

func (r *recordingChunks) Dense(_ context.Context, v []float32, f string, l, o int) ([]milvus.Hit, error) {
	r.mode, r.vector, r.filter, r.limit, r.offset = ModeDense, v, f, l, o
	return r.hits, r.err
}

func (r *recordingChunks) Text(_ context.Context, q, f string, l, o int) ([]milvus.Hit, error) {
	r.mode, r.query, r.filter, r.limit, r.offset = ModeText, q, f, l, o
	return r.hits, r.err
}

func (r *recordingChunks) Hybrid(_ context.Context, v []float32, q, f string, l, o, c int) ([]milvus.Hit, error) {
	r.mode, r.vector, r.query, r.filter, r.limit, r.offset, r.candidate = ModeHybrid, v, q, f, l, o, c
	return r.hits, r.err
}

var limits = Limits{DefaultK: 10, MaxK: 100, MaxOffset: 1000, MaxQueryChars: 50, Candidates: 100}

func intp(v int) *int { return &v }

func TestSearchDispatchesByMode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		req       Request
		mode      string
		limit     int
		offset    int
		candidate int
		embeds    bool
	}{
		{name: "default is hybrid with default k", req: Request{Query: "water"}, mode: ModeHybrid, limit: 10, candidate: 100, embeds: true},
		{name: "dense", req: Request{Query: "water", Mode: ModeDense, K: intp(3)}, mode: ModeDense, limit: 3, embeds: true},
		{name: "text does not embed", req: Request{Query: "water", Mode: ModeText, Offset: intp(5)}, mode: ModeText, limit: 10, offset: 5},
		{name: "hybrid candidates cover k+offset", req: Request{Query: "w", K: intp(100), Offset: intp(900)}, mode: ModeHybrid, limit: 100, offset: 900, candidate: 1000, embeds: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chunks := &recordingChunks{}
			tc.req.Tenant = "acme"
			response, err := NewService(chunks, embed.NewHashing(16), limits).Search(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if chunks.mode != tc.mode || chunks.limit != tc.limit || chunks.offset != tc.offset || chunks.candidate != tc.candidate {
				t.Fatalf("called %+v", chunks)
			}
			if (chunks.vector != nil) != tc.embeds || len(chunks.vector) > 0 && len(chunks.vector) != 16 {
				t.Fatalf("vector %v, want embedded=%v", chunks.vector, tc.embeds)
			}
			if chunks.filter != `tenant == "acme"` {
				t.Fatalf("filter %q", chunks.filter)
			}
			if response.Mode != tc.mode || response.K != tc.limit || response.Offset != tc.offset || response.Hits == nil {
				t.Fatalf("response %+v", response)
			}
		})
	}
}

func TestSearchRejectsBadRequests(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		req  Request
		code string
	}{
		{"empty query", Request{Query: "  "}, "invalid_query"},
		{"query too long", Request{Query: strings.Repeat("é", 51)}, "invalid_query"},
		{"invalid utf-8", Request{Query: "a\xffb"}, "invalid_query"},
		{"unknown mode", Request{Query: "q", Mode: "fuzzy"}, "invalid_mode"},
		{"k zero", Request{Query: "q", K: intp(0)}, "invalid_k"},
		{"k too large", Request{Query: "q", K: intp(101)}, "invalid_k"},
		{"negative offset", Request{Query: "q", Offset: intp(-1)}, "invalid_offset"},
		{"offset too large", Request{Query: "q", Offset: intp(1001)}, "invalid_offset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chunks := &recordingChunks{}
			tc.req.Tenant = "acme"
			_, err := NewService(chunks, embed.NewHashing(16), limits).Search(context.Background(), tc.req)
			var bad *Error
			if !errors.As(err, &bad) || bad.Code != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
			if chunks.mode != "" {
				t.Fatal("a bad request reached the store")
			}
		})
	}
}

func TestMinScoreDropsWeakHits(t *testing.T) {
	t.Parallel()
	chunks := &recordingChunks{hits: []milvus.Hit{{ChunkID: "a", Score: 0.9}, {ChunkID: "b", Score: 0.2}}}
	minimum := 0.5
	response, err := NewService(chunks, embed.NewHashing(16), limits).
		Search(context.Background(), Request{Query: "q", Mode: ModeDense, Tenant: "acme", MinScore: &minimum})
	if err != nil || len(response.Hits) != 1 || response.Hits[0].ChunkID != "a" {
		t.Fatalf("got %+v, %v", response, err)
	}
}

func TestStoreErrorsPassThrough(t *testing.T) {
	t.Parallel()
	chunks := &recordingChunks{err: milvus.ErrUnavailable}
	_, err := NewService(chunks, embed.NewHashing(16), limits).Search(context.Background(), Request{Query: "q", Tenant: "acme"})
	if !errors.Is(err, milvus.ErrUnavailable) {
		t.Fatalf("got %v", err)
	}
}
