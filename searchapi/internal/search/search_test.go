package search

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"sluice.dev/searchapi/internal/analysis"
	"sluice.dev/searchapi/internal/embed"
)

// recordingChunks remembers its calls and answers each search with the page of its hits
// (dense) or textHits (text, when set).
type recordingChunks struct {
	mu       sync.Mutex
	calls    map[string]Page // search mode (or "count", "rows") -> the page asked for
	mode     string          // the last call's
	terms    string
	scope    Scope
	page     Page
	vector   Vector
	hits     []Hit
	textHits []Hit
	count    int64
	rows     []Chunk
	err      error
}

func (r *recordingChunks) record(mode string, s Scope, p Page) {
	if r.calls == nil {
		r.calls = map[string]Page{}
	}
	r.calls[mode], r.mode, r.scope, r.page = p, mode, s, p
}

func (r *recordingChunks) Rows(_ context.Context, s Scope, limit int) ([]Chunk, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.record("rows", s, Page{Limit: limit})
	return slices.Clone(r.rows), r.err
}

func (r *recordingChunks) Dense(_ context.Context, s Scope, v Vector, p Page) ([]Hit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.record(ModeDense, s, p)
	r.vector = v
	return slices.Clone(window(r.hits, p)), r.err
}

func (r *recordingChunks) Text(_ context.Context, s Scope, terms string, p Page) ([]Hit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.record(ModeText, s, p)
	r.terms = terms
	hits := r.hits
	if r.textHits != nil {
		hits = r.textHits
	}
	return slices.Clone(window(hits, p)), r.err
}

func (r *recordingChunks) Count(_ context.Context, s Scope) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.record("count", s, Page{})
	return r.count, r.err
}

// fakeRecords knows one document, "known", of every tenant.
type fakeRecords struct{ err error }

func (f fakeRecords) Get(_ context.Context, tenant, id string) (Record, error) {
	if f.err != nil {
		return Record{}, f.err
	}
	if id != "known" {
		return Record{}, ErrNotFound
	}
	return Record{ID: id, Tenant: tenant, Status: "indexed", Chunks: 3}, nil
}

// reportingEmbedder learns its version from its first answer, as the HTTP embedder does.
type reportingEmbedder struct {
	*embed.Hashing
	embedded bool
	err      error
}

func (r *reportingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if r.err != nil {
		return nil, r.err
	}
	r.embedded = true
	return r.Hashing.Embed(ctx, texts)
}

func (r *reportingEmbedder) Identity() embed.Identity {
	identity := r.Hashing.Identity()
	if !r.embedded {
		identity.Version = ""
	}
	return identity
}

var limits = Limits{DefaultK: 10, MaxK: 100, MaxOffset: 1000, MaxQueryChars: 50, Candidates: 100}

func intp(v int) *int { return &v }

func floatp(v float64) *float64 { return &v }

var english = func() *analysis.Analyzer {
	analyzer, err := analysis.New("english")
	if err != nil {
		panic(err)
	}
	return analyzer
}()

func newService(chunks Chunks, records Records) *Service {
	return NewService(chunks, records, &reportingEmbedder{Hashing: embed.NewHashing(16)}, english, limits)
}

func TestSearchDispatchesByMode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		req    Request
		calls  map[string]Page
		page   Page
		embeds bool
	}{
		{name: "default is hybrid with default k: both rankings, candidates deep", req: Request{Query: "water"},
			calls: map[string]Page{ModeDense: {Limit: 100}, ModeText: {Limit: 100}}, page: Page{Limit: 10}, embeds: true},
		{name: "dense", req: Request{Query: "water", Mode: ModeDense, K: intp(3)},
			calls: map[string]Page{ModeDense: {Limit: 3}}, page: Page{Limit: 3}, embeds: true},
		{name: "text does not embed", req: Request{Query: "water", Mode: ModeText, Offset: intp(5)},
			calls: map[string]Page{ModeText: {Limit: 10, Offset: 5}}, page: Page{Limit: 10, Offset: 5}},
		{name: "hybrid candidates cover k+offset", req: Request{Query: "w", K: intp(100), Offset: intp(900)},
			calls: map[string]Page{ModeDense: {Limit: 1000}, ModeText: {Limit: 1000}}, page: Page{Limit: 100, Offset: 900}, embeds: true},
		{name: "hybrid without its text ranking", req: Request{Query: "water", Fusion: &Fusion{Weights: &Weights{Text: floatp(0)}}},
			calls: map[string]Page{ModeDense: {Limit: 100}}, page: Page{Limit: 10}, embeds: true},
		{name: "hybrid without its dense ranking does not embed", req: Request{Query: "water", Fusion: &Fusion{Weights: &Weights{Dense: floatp(0)}}},
			calls: map[string]Page{ModeText: {Limit: 100}}, page: Page{Limit: 10}},
		{name: "a text query of stop words only asks nothing", req: Request{Query: "the of and", Mode: ModeText},
			calls: map[string]Page{}, page: Page{Limit: 10}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chunks := &recordingChunks{}
			tc.req.Tenant = "acme"
			response, err := newService(chunks, fakeRecords{}).Search(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(chunks.calls, tc.calls) && len(chunks.calls)+len(tc.calls) > 0 {
				t.Fatalf("called %v, want %v", chunks.calls, tc.calls)
			}
			if (chunks.vector.Values != nil) != tc.embeds || len(chunks.vector.Values) > 0 && len(chunks.vector.Values) != 16 {
				t.Fatalf("vector %v, want embedded=%v", chunks.vector, tc.embeds)
			}
			if len(tc.calls) > 0 && (chunks.scope.Expression() != `tenant == "acme"` || chunks.scope.Tenant() != "acme") {
				t.Fatalf("scope %+v", chunks.scope)
			}
			if response.K != tc.page.Limit || response.Offset != tc.page.Offset || response.Hits == nil {
				t.Fatalf("response %+v", response)
			}
		})
	}
}

func TestTextSearchesTheAnalysedQuery(t *testing.T) {
	t.Parallel()
	chunks := &recordingChunks{}
	_, err := newService(chunks, fakeRecords{}).Search(context.Background(),
		Request{Query: "Running the water-mills", Mode: ModeText, Tenant: "acme"})
	if err != nil || chunks.terms != "run water mill" {
		t.Fatalf("text search for %q (%v), want the stems without stop words", chunks.terms, err)
	}
}

func TestTheVectorCarriesTheIdentityReadAfterEmbedding(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeDense, ModeHybrid} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			chunks := &recordingChunks{}
			_, err := newService(chunks, fakeRecords{}).Search(context.Background(), Request{Query: "q", Mode: mode, Tenant: "acme"})
			want := embed.Identity{Name: "hashing", Dim: 16, Version: "1"}
			if err != nil || chunks.vector.Embedder != want {
				t.Fatalf("store got identity %+v (%v), want %+v", chunks.vector.Embedder, err, want)
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
		{"bad filter", Request{Query: "q", Filter: Filter{DocumentID: []byte(`42`)}}, "invalid_filter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chunks := &recordingChunks{}
			tc.req.Tenant = "acme"
			_, err := newService(chunks, fakeRecords{}).Search(context.Background(), tc.req)
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
	chunks := &recordingChunks{hits: []Hit{{ChunkID: "a", Score: 0.9}, {ChunkID: "b", Score: 0.2}}}
	minimum := 0.5
	response, err := newService(chunks, fakeRecords{}).
		Search(context.Background(), Request{Query: "q", Mode: ModeDense, Tenant: "acme", MinScore: &minimum})
	if err != nil || len(response.Hits) != 1 || response.Hits[0].ChunkID != "a" {
		t.Fatalf("got %+v, %v", response, err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		store     error
		embedder  error
		want      error
		component string
	}{
		{name: "store errors pass through", store: ErrMilvusUnavailable, want: ErrMilvusUnavailable, component: "milvus"},
		{name: "a mismatch passes through", store: ErrEmbedderMismatch, want: ErrEmbedderMismatch},
		{name: "embedder errors are the embedder's", embedder: embed.ErrBadResponse, want: ErrEmbedderUnavailable, component: "embedder"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			embedder := &reportingEmbedder{Hashing: embed.NewHashing(16), err: tc.embedder}
			service := NewService(&recordingChunks{err: tc.store}, fakeRecords{}, embedder, english, limits)
			_, err := service.Search(context.Background(), Request{Query: "q", Tenant: "acme"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var unavailable *UnavailableError
			if errors.As(err, &unavailable) != (tc.component != "") || tc.component != "" && unavailable.Component != tc.component {
				t.Fatalf("got %v, want component %q", err, tc.component)
			}
		})
	}
}

func TestDocument(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		id      string
		records error
		want    error
		code    string
		counted bool
	}{
		{name: "known", id: "known", counted: true},
		{name: "unknown", id: "other", want: ErrNotFound},
		{name: "invalid id", id: "bad id", code: "invalid_id"},
		{name: "redis down", id: "known", records: ErrRedisUnavailable, want: ErrRedisUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chunks := &recordingChunks{count: 3}
			document, err := newService(chunks, fakeRecords{err: tc.records}).Document(context.Background(), "acme", tc.id)
			var bad *Error
			switch {
			case tc.code != "":
				if !errors.As(err, &bad) || bad.Code != tc.code {
					t.Fatalf("got %v, want %s", err, tc.code)
				}
			case tc.want != nil:
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
			case err != nil || document.ID != "known" || document.IndexedChunks != 3:
				t.Fatalf("got %+v, %v", document, err)
			}
			if counted := chunks.mode == "count"; counted != tc.counted {
				t.Fatalf("counted: %v, want %v", counted, tc.counted)
			}
			if tc.counted && chunks.scope.Expression() != `tenant == "acme" and (doc_id == "known")` {
				t.Fatalf("counted in %q", chunks.scope.Expression())
			}
		})
	}
}

func TestDocumentChunks(t *testing.T) {
	t.Parallel()
	rows := []Chunk{{Chunk: 2, Text: "c"}, {Chunk: 0, Text: "a"}, {Chunk: 1, Text: "b"}}
	cases := []struct {
		name          string
		id            string
		limit, offset int
		records       error
		want          []int64
		total         int
		code          string
		wantErr       error
	}{
		{name: "in chunk order", id: "known", limit: 10, want: []int64{0, 1, 2}, total: 3},
		{name: "a page", id: "known", limit: 1, offset: 1, want: []int64{1}, total: 3},
		{name: "past the end", id: "known", limit: 5, offset: 7, want: []int64{}, total: 3},
		{name: "limit zero", id: "known", limit: 0, code: "invalid_limit"},
		{name: "limit too large", id: "known", limit: 501, code: "invalid_limit"},
		{name: "negative offset", id: "known", limit: 1, offset: -1, code: "invalid_offset"},
		{name: "invalid id", id: "bad id", limit: 1, code: "invalid_id"},
		{name: "unknown document", id: "other", limit: 1, wantErr: ErrNotFound},
		{name: "redis down", id: "known", limit: 1, records: ErrRedisUnavailable, wantErr: ErrRedisUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chunks := &recordingChunks{rows: rows}
			page, err := newService(chunks, fakeRecords{err: tc.records}).DocumentChunks(context.Background(), "acme", tc.id, tc.limit, tc.offset)
			var bad *Error
			switch {
			case tc.code != "":
				if !errors.As(err, &bad) || bad.Code != tc.code {
					t.Fatalf("got %v, want %s", err, tc.code)
				}
				return
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			got := []int64{}
			for _, chunk := range page.Chunks {
				got = append(got, chunk.Chunk)
			}
			if !slices.Equal(got, tc.want) || page.Total != tc.total {
				t.Fatalf("got chunks %v of %d, want %v of %d", got, page.Total, tc.want, tc.total)
			}
			if want := `tenant == "acme" and (doc_id == "known")`; chunks.scope.Expression() != want || chunks.page.Limit != MaxChunkRows {
				t.Fatalf("queried %q (limit %d), want %q", chunks.scope.Expression(), chunks.page.Limit, want)
			}
		})
	}
}
