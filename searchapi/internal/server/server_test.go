package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sluice.dev/searchapi/internal/analysis"
	"sluice.dev/searchapi/internal/embed"
	"sluice.dev/searchapi/internal/metrics"
	"sluice.dev/searchapi/internal/search"
)

var english = func() *analysis.Analyzer {
	analyzer, err := analysis.New("english")
	if err != nil {
		panic(err)
	}
	return analyzer
}()

// fakeService records searches and answers them with one hit (or err); document lookups go
// through the real service, over fake stores.
type fakeService struct {
	*search.Service
	last search.Request
	err  error
}

func (f *fakeService) Search(_ context.Context, req search.Request) (*search.Response, error) {
	f.last = req
	if f.err != nil {
		return nil, f.err
	}
	return &search.Response{Hits: []search.Hit{{ChunkID: "c1", DocumentID: "d1", Score: 0.5,
		Metadata: json.RawMessage(`{"lang":"en"}`)}}, Mode: req.Mode, K: 10}, nil
}

// fakeRecords knows one document, "known", of every tenant.
type fakeRecords struct{ err error }

func (f fakeRecords) Get(_ context.Context, tenant, id string) (search.Record, error) {
	if f.err != nil {
		return search.Record{}, f.err
	}
	if id != "known" {
		return search.Record{}, search.ErrNotFound
	}
	return search.Record{ID: id, Tenant: tenant, Status: "indexed", Chunks: 3}, nil
}

// fakeChunks counts 3 chunks in any scope, remembering it; searches are never run.
type fakeChunks struct {
	search.Chunks
	scope search.Scope
}

// Current names one collection of the hashing embedder the fixture's service embeds with.
func (f *fakeChunks) Current(context.Context) (search.Collection, error) {
	return search.Collection{Name: "chunks", Embedder: embed.Identity{Name: embed.HashingName, Dim: 8, Version: "1"}}, nil
}

func (f *fakeChunks) Count(_ context.Context, scope search.Scope) (int64, error) {
	f.scope = scope
	return 3, nil
}

type fixture struct {
	service *fakeService
	chunks  *fakeChunks
	handler http.Handler
}

func newFixture(keys map[string]string, ready error, docs error) *fixture {
	f := &fixture{chunks: &fakeChunks{}}
	f.service = &fakeService{Service: search.NewService(f.chunks, fakeRecords{err: docs}, embed.NewModels("", "", nil, 0, nil, nil), english, search.Limits{})}
	f.handler = New(Deps{
		Service: f.service,
		Ready:   []Check{{Name: "milvus", Run: func(context.Context) error { return ready }}},
		Keys:    NewKeys(keys), Metrics: metrics.New(),
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Timeout: time.Second,
	})
	return f
}

func (f *fixture) do(method, target, body string, header map[string]string) (int, map[string]any) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	var decoded map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &decoded)
	return rec.Code, decoded
}

func errorCode(body map[string]any) string {
	if e, ok := body["error"].(map[string]any); ok {
		code, _ := e["code"].(string)
		return code
	}
	return ""
}

func TestRoutesAndErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		method   string
		target   string
		body     string
		header   map[string]string
		keys     map[string]string
		searchEr error
		status   int
		code     string
		tenant   string
	}{
		{name: "get search", method: "GET", target: "/v1/search?q=water&k=5&mode=text&offset=2", status: 200, tenant: "default"},
		{name: "get search names a tenant", method: "GET", target: "/v1/search?q=water&tenant=acme", status: 200, tenant: "acme"},
		{name: "post search", method: "POST", target: "/v1/search", body: `{"query":"water","filter":{"metadata":{"lang":"en"}}}`, status: 200, tenant: "default"},
		{name: "k not a number", method: "GET", target: "/v1/search?q=water&k=ten", status: 400, code: "invalid_k"},
		{name: "offset not a number", method: "GET", target: "/v1/search?q=water&offset=x", status: 400, code: "invalid_offset"},
		{name: "malformed json", method: "POST", target: "/v1/search", body: `{"query":`, status: 400, code: "invalid_json"},
		{name: "unknown field", method: "POST", target: "/v1/search", body: `{"query":"q","limit":3}`, status: 400, code: "invalid_json"},
		{name: "two values", method: "POST", target: "/v1/search", body: `{"query":"q"} {}`, status: 400, code: "invalid_json"},
		{name: "bad tenant", method: "GET", target: "/v1/search?q=q&tenant=Not%20Valid", status: 400, code: "invalid_tenant"},
		// An empty tenant is not a tenant name (issue 11: it was taken for "none named").
		{name: "empty tenant in the query", method: "GET", target: "/v1/search?q=q&tenant=", status: 400, code: "invalid_tenant"},
		{name: "empty tenant in the body", method: "POST", target: "/v1/search", body: `{"query":"q","tenant":""}`, status: 400, code: "invalid_tenant"},
		{name: "empty tenant with a key", method: "GET", target: "/v1/search?q=q&tenant=", keys: map[string]string{"k1": "acme"}, header: map[string]string{"Authorization": "Bearer k1"}, status: 400, code: "invalid_tenant"},
		{name: "empty tenant of a document", method: "GET", target: "/v1/documents/known?tenant=", status: 400, code: "invalid_tenant"},
		{name: "null tenant in the body is none named", method: "POST", target: "/v1/search", body: `{"query":"q","tenant":null}`, status: 200, tenant: "default"},
		{name: "service says bad request", method: "GET", target: "/v1/search?q=", searchEr: &search.Error{Code: "invalid_query", Message: "empty"}, status: 400, code: "invalid_query"},
		{name: "milvus down", method: "GET", target: "/v1/search?q=q", searchEr: search.ErrMilvusUnavailable, status: 503, code: "milvus_unavailable"},
		{name: "embedder down", method: "GET", target: "/v1/search?q=q", searchEr: search.ErrEmbedderUnavailable, status: 503, code: "embedder_unavailable"},
		{name: "embedder mismatch", method: "GET", target: "/v1/search?q=q", searchEr: search.ErrEmbedderMismatch, status: 500, code: "embedder_mismatch"},
		{name: "milvus refuses", method: "GET", target: "/v1/search?q=q", searchEr: search.ErrRejected, status: 500, code: "milvus_error"},
		{name: "too slow", method: "GET", target: "/v1/search?q=q", searchEr: context.DeadlineExceeded, status: 503, code: "timeout"},
		{name: "anything else", method: "GET", target: "/v1/search?q=q", searchEr: errors.New("boom"), status: 500, code: "internal_error"},
		{name: "no key", method: "GET", target: "/v1/search?q=q", keys: map[string]string{"k1": "acme"}, status: 401, code: "unauthorized"},
		{name: "wrong key", method: "GET", target: "/v1/search?q=q", keys: map[string]string{"k1": "acme"}, header: map[string]string{"Authorization": "Bearer k2"}, status: 401, code: "unauthorized"},
		{name: "key gives tenant", method: "GET", target: "/v1/search?q=q", keys: map[string]string{"k1": "acme"}, header: map[string]string{"Authorization": "Bearer k1"}, status: 200, tenant: "acme"},
		{name: "key for another tenant", method: "POST", target: "/v1/search", body: `{"query":"q","tenant":"other"}`, keys: map[string]string{"k1": "acme"}, header: map[string]string{"Authorization": "Bearer k1"}, status: 403, code: "forbidden"},
		{name: "unknown route", method: "GET", target: "/v2/search", status: 404, code: "not_found"},
		{name: "wrong method", method: "DELETE", target: "/v1/search", status: 405, code: "method_not_allowed"},
		{name: "health needs no key", method: "GET", target: "/healthz", keys: map[string]string{"k1": "acme"}, status: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(tc.keys, nil, nil)
			f.service.err = tc.searchEr
			status, body := f.do(tc.method, tc.target, tc.body, tc.header)
			if status != tc.status || errorCode(body) != tc.code {
				t.Fatalf("got %d %v, want %d %q", status, body, tc.status, tc.code)
			}
			if tc.tenant != "" && f.service.last.Tenant != tc.tenant {
				t.Fatalf("searched tenant %q, want %q", f.service.last.Tenant, tc.tenant)
			}
		})
	}
}

func TestGetSearchPassesParameters(t *testing.T) {
	t.Parallel()
	f := newFixture(nil, nil, nil)
	status, body := f.do("GET", "/v1/search?q=water+wheel&k=5&mode=text&offset=2", "", nil)
	last := f.service.last
	if status != 200 || last.Query != "water wheel" || *last.K != 5 || last.Mode != "text" || *last.Offset != 2 {
		t.Fatalf("got %d %v %+v", status, body, last)
	}
	hits := body["hits"].([]any)
	hit := hits[0].(map[string]any)
	if hit["document_id"] != "d1" || hit["metadata"].(map[string]any)["lang"] != "en" {
		t.Fatalf("hit %v", hit)
	}
}

func TestDocumentStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		target string
		docs   error
		status int
		code   string
	}{
		{"known", "/v1/documents/known?tenant=acme", nil, 200, ""},
		{"unknown", "/v1/documents/other", nil, 404, "not_found"},
		{"invalid id", "/v1/documents/bad%20id", nil, 400, "invalid_id"},
		{"redis down", "/v1/documents/known", search.ErrRedisUnavailable, 503, "redis_unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(nil, nil, tc.docs)
			status, body := f.do("GET", tc.target, "", nil)
			if status != tc.status || errorCode(body) != tc.code {
				t.Fatalf("got %d %v", status, body)
			}
			if status == 200 && (body["indexed_chunks"] != float64(3) || body["id"] != "known" || body["tenant"] != "acme" ||
				f.chunks.scope.Expression() != `tenant == "acme" and (doc_id == "known")`) {
				t.Fatalf("got %v, counted in %q", body, f.chunks.scope.Expression())
			}
		})
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	refused := errors.New("connection refused")
	cases := []struct {
		name          string
		milvus, redis error
		status        int
		code          string
	}{
		{name: "both answer", status: 200},
		{name: "milvus down", milvus: refused, status: 503, code: "milvus_unavailable"},
		{name: "redis down", redis: search.ErrRedisUnavailable, status: 503, code: "redis_unavailable"},
		{name: "both down: the first check is named", milvus: refused, redis: refused, status: 503, code: "milvus_unavailable"},
		{name: "another embedder's collection", milvus: search.ErrEmbedderMismatch, status: 503, code: "embedder_mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			handler := New(Deps{
				Service: &fakeService{},
				Ready: []Check{
					{Name: "milvus", Run: func(context.Context) error { return tc.milvus }},
					{Name: "redis", Run: func(context.Context) error { return tc.redis }},
				},
				Keys: NewKeys(nil), Metrics: metrics.New(), Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
			})
			for range 20 { // a map of checks would name either one
				f := &fixture{handler: handler}
				status, body := f.do("GET", "/readyz", "", nil)
				if status != tc.status || errorCode(body) != tc.code {
					t.Fatalf("got %d %v, want %d %q", status, body, tc.status, tc.code)
				}
			}
		})
	}
}

func TestTheFirstSuccessfulReadinessCheckRecordsTheColdStart(t *testing.T) {
	t.Parallel()
	ready := errors.New("connection refused")
	m := metrics.New()
	handler := New(Deps{
		Service: &fakeService{},
		Ready:   []Check{{Name: "milvus", Run: func(context.Context) error { return ready }}},
		Keys:    NewKeys(nil), Metrics: m, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Timeout: time.Second, Started: time.Now().Add(-2 * time.Second),
	})
	scrape := func() string {
		for _, target := range []string{"/readyz", "/metrics"} {
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
			if target == "/metrics" {
				return rec.Body.String()
			}
		}
		return ""
	}
	count := `sluice_cold_start_seconds_count{function="searchapi"} 1`
	if body := scrape(); strings.Contains(body, count) {
		t.Fatal("a failed readiness check recorded a cold start")
	}
	ready = nil
	scrape()
	body := scrape()
	if !strings.Contains(body, count) || !strings.Contains(body, `sluice_cold_start_seconds_bucket{function="searchapi",le="1"} 0`) {
		t.Fatalf("want one cold start of about 2 s, got:\n%s", body)
	}
}

func TestMetricsCountRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(nil, nil, nil)
	f.do("GET", "/v1/search?q=q&mode=dense", "", nil)
	req := httptest.NewRequest("GET", "/metrics", nil)
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	want := `sluice_searchapi_requests_total{mode="dense",route="/v1/search",status="200"} 1`
	if !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("metrics lack %s", want)
	}
}
