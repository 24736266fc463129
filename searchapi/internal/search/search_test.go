package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"sluice.dev/searchapi/internal/analysis"
	"sluice.dev/searchapi/internal/embed"
)

// hashing16 is the embedder of the collection recordingChunks names by default.
var hashing16 = embed.Identity{Name: "hashing", Dim: 16, Version: "1"}

// recordingChunks remembers its calls and answers each search with the page of its hits
// (dense) or textHits (text, when set). Its alias names current (default: "chunks", of
// hashing16).
type recordingChunks struct {
	mu         sync.Mutex
	current    *Collection
	currentErr error
	currents   int             // calls of Current
	calls      map[string]Page // search mode (or "count", "rows") -> the page asked for
	scopes     []Scope         // every call's, in order
	mode       string          // the last call's
	terms      string
	scope      Scope
	page       Page
	vector     Vector
	hits       []Hit
	textHits   []Hit
	count      int64
	rows       []Chunk
	err        error
}

func (r *recordingChunks) Current(context.Context) (Collection, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.currents++
	if r.current != nil {
		return *r.current, r.currentErr
	}
	return Collection{Name: "chunks", Embedder: hashing16}, r.currentErr
}

func (r *recordingChunks) record(mode string, s Scope, p Page) {
	if r.calls == nil {
		r.calls = map[string]Page{}
	}
	r.calls[mode], r.mode, r.scope, r.page = p, mode, s, p
	r.scopes = append(r.scopes, s)
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

// recordingEmbedder embeds with the hashing embedder of the identity asked for (or fails
// with err), remembering the identities.
type recordingEmbedder struct {
	mu         sync.Mutex
	identities []embed.Identity
	err        error
}

func (r *recordingEmbedder) Embed(ctx context.Context, identity embed.Identity, texts []string) ([][]float32, error) {
	r.mu.Lock()
	r.identities = append(r.identities, identity)
	r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	return embed.NewHashing(identity.Dim).Embed(ctx, texts)
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
	return NewService(chunks, records, &recordingEmbedder{}, english, limits)
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

func TestTheVectorCarriesTheCollectionsIdentity(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeDense, ModeHybrid} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			want := embed.Identity{Name: "hashing", Dim: 24, Version: "1"}
			chunks := &recordingChunks{current: &Collection{Name: "chunks__v2", Embedder: want}}
			embedder := &recordingEmbedder{}
			response, err := NewService(chunks, fakeRecords{}, embedder, english, limits).
				Search(context.Background(), Request{Query: "q", Mode: mode, Tenant: "acme"})
			if err != nil || chunks.vector.Embedder != want || len(chunks.vector.Values) != want.Dim {
				t.Fatalf("store got identity %+v, %d components (%v), want %+v", chunks.vector.Embedder,
					len(chunks.vector.Values), err, want)
			}
			if !slices.Equal(embedder.identities, []embed.Identity{want}) {
				t.Fatalf("the embedder was asked for %+v, want the collection's %+v once", embedder.identities, want)
			}
			if response.Embedder == nil || *response.Embedder != want {
				t.Fatalf("the response names embedder %v, want the collection's %+v", response.Embedder, want)
			}
		})
	}
}

func TestASearchReadsTheOneCollectionCurrentNamed(t *testing.T) {
	t.Parallel()
	hits := []Hit{hit("a", "1", 0.9), hit("b", "1", 0.8), hit("c", "2", 0.7)}
	cases := []struct {
		name  string
		req   Request
		calls int // at least
	}{
		{name: "dense", req: Request{Query: "water", Mode: ModeDense}, calls: 1},
		{name: "text", req: Request{Query: "water", Mode: ModeText}, calls: 1},
		{name: "hybrid's two rankings", req: Request{Query: "water"}, calls: 2},
		{name: "hybrid, grouped and read deeper", req: Request{Query: "water", GroupBy: GroupByDocument, K: intp(5)}, calls: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			identity := embed.Identity{Name: "hashing", Dim: 16, Version: "1"}
			chunks := &recordingChunks{hits: hits, current: &Collection{Name: "sluice_chunks__v4_hashing_16", Embedder: identity}}
			tc.req.Tenant = "acme"
			response, err := newService(chunks, fakeRecords{}).Search(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if chunks.currents != 1 {
				t.Fatalf("Current was called %d times, want once per search", chunks.currents)
			}
			if len(chunks.scopes) < tc.calls {
				t.Fatalf("%d calls of the store, want at least %d", len(chunks.scopes), tc.calls)
			}
			for i, scope := range chunks.scopes {
				if scope.Collection() != "sluice_chunks__v4_hashing_16" || scope.Tenant() != "acme" {
					t.Fatalf("call %d read collection %q of tenant %q, want the one Current named", i, scope.Collection(), scope.Tenant())
				}
			}
			if response.Embedder == nil || *response.Embedder != identity {
				t.Fatalf("the response names embedder %v, want %+v", response.Embedder, identity)
			}
			raw, err := json.Marshal(response)
			if err != nil || !strings.Contains(string(raw), `"embedder":{"name":"hashing","dim":16,"version":"1"}`) {
				t.Fatalf("response JSON %s (%v), want the collection's embedder", raw, err)
			}
		})
	}
}

func TestNothingIndexedYetIsNoHits(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeDense, ModeText, ModeHybrid} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			chunks := &recordingChunks{current: &Collection{}, hits: []Hit{hit("a", "1", 0.9)}}
			embedder := &recordingEmbedder{}
			response, err := NewService(chunks, fakeRecords{}, embedder, english, limits).
				Search(context.Background(), Request{Query: "water", Mode: mode, Tenant: "acme", K: intp(3)})
			if err != nil {
				t.Fatal(err)
			}
			if response.Hits == nil || len(response.Hits) != 0 || response.K != 3 || response.Mode != mode {
				t.Fatalf("response %+v, want no hits", response)
			}
			if response.Embedder != nil {
				t.Fatalf("the response names embedder %+v with nothing indexed", *response.Embedder)
			}
			if len(embedder.identities) != 0 || len(chunks.scopes) != 0 {
				t.Fatalf("embedded %v, called the store %d times; want neither", embedder.identities, len(chunks.scopes))
			}
			raw, err := json.Marshal(response)
			if err != nil || !strings.Contains(string(raw), `"hits":[]`) || strings.Contains(string(raw), "embedder") {
				t.Fatalf("response JSON %s (%v), want empty hits and no embedder", raw, err)
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
		current   error
		embedder  error
		want      error
		component string
	}{
		{name: "store errors pass through", store: ErrMilvusUnavailable, want: ErrMilvusUnavailable, component: "milvus"},
		{name: "a mismatch passes through", store: ErrEmbedderMismatch, want: ErrEmbedderMismatch},
		{name: "embedder errors are the embedder's", embedder: embed.ErrBadResponse, want: ErrEmbedderUnavailable, component: "embedder"},
		{name: "an embedder of another build is a mismatch", embedder: fmt.Errorf("%w: v3, not v4", embed.ErrMismatch), want: ErrEmbedderMismatch},
		{name: "resolving the alias fails", current: ErrMilvusUnavailable, want: ErrMilvusUnavailable, component: "milvus"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			embedder := &recordingEmbedder{err: tc.embedder}
			chunks := &recordingChunks{err: tc.store, currentErr: tc.current}
			service := NewService(chunks, fakeRecords{}, embedder, english, limits)
			_, err := service.Search(context.Background(), Request{Query: "q", Tenant: "acme"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.embedder != nil && len(chunks.scopes) != 0 || tc.current != nil && (len(embedder.identities) != 0 || len(chunks.scopes) != 0) {
				t.Fatalf("searched on after the error: embedded %v, %d store calls", embedder.identities, len(chunks.scopes))
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
