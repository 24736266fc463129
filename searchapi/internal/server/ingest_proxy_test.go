package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice.dev/searchapi/internal/metrics"
)

// received is what the upstream (standing in for the ingest function) was sent.
type received struct {
	method, uri, auth, cookie, requestID, contentType, forwardedFor string
	body                                                            string
}

func proxyFixture(t *testing.T, keys map[string]string, maxBody int64) (http.Handler, func() []received) {
	t.Helper()
	var mu sync.Mutex
	var got []received
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.Method, r.RequestURI, r.Header.Get("Authorization"), r.Header.Get("Cookie"),
			r.Header.Get("X-Request-Id"), r.Header.Get("Content-Type"), r.Header.Get("X-Forwarded-For"), string(body)})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"id":"d1","status":"accepted"}`))
	}))
	t.Cleanup(upstream.Close)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	proxy, err := NewIngestProxy(upstream.URL, maxBody, log)
	if err != nil {
		t.Fatal(err)
	}
	handler := New(Deps{Keys: NewKeys(keys), Metrics: metrics.New(), Log: log, Timeout: time.Second, Ingest: proxy})
	return handler, func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), got...)
	}
}

// serverRequest is a request as a server gives it: with a context that ends (httputil's proxy
// falls back to the recorder's missing CloseNotify without one).
func serverRequest(method, target string, body io.Reader) *http.Request {
	req := httptest.NewRequest(method, target, body)
	ctx, cancel := context.WithCancel(req.Context())
	_ = cancel // ends with the test process
	return req.WithContext(ctx)
}

func send(handler http.Handler, method, target, body string, header map[string]string) *httptest.ResponseRecorder {
	req := serverRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	return rec
}

func TestIngestProxyForwards(t *testing.T) {
	t.Parallel()
	handler, got := proxyFixture(t, map[string]string{"k1": "acme"}, 1024)
	header := map[string]string{"Authorization": "Bearer k1", "Content-Type": "application/json",
		"Cookie": "session=secret", "X-Request-Id": "req-1"}
	cases := []struct{ method, target, body, wantURI string }{
		{"POST", "/v1/ingest/documents", `{"text":"hello"}`, "/documents"},
		{"GET", "/v1/ingest/documents?status=indexed&limit=5&cursor=abc", "", "/documents?status=indexed&limit=5&cursor=abc"},
		{"GET", "/v1/ingest/documents/doc%3A1", "", "/documents/doc%3A1"},
		{"DELETE", "/v1/ingest/documents/doc-1", "", "/documents/doc-1"},
		{"GET", "/v1/ingest/dead-letters", "", "/dead-letters"},
		{"POST", "/v1/ingest/dead-letters/replay", `{"all":true}`, "/dead-letters/replay"},
	}
	for i, tc := range cases {
		rec := send(handler, tc.method, tc.target, tc.body, header)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("%s %s: %d %s", tc.method, tc.target, rec.Code, rec.Body.String())
		}
		r := got()[i]
		if r.method != tc.method || r.uri != tc.wantURI || r.body != tc.body {
			t.Fatalf("%s %s reached ingest as %+v, want %s", tc.method, tc.target, r, tc.wantURI)
		}
		if r.auth != "Bearer k1" || r.cookie != "" || r.requestID != "req-1" || r.contentType != "application/json" || r.forwardedFor == "" {
			t.Fatalf("headers forwarded: %+v", r)
		}
	}
}

func TestIngestProxyRefuses(t *testing.T) {
	t.Parallel()
	handler, got := proxyFixture(t, map[string]string{"k1": "acme"}, 1024)
	key := map[string]string{"Authorization": "Bearer k1"}
	cases := []struct {
		name, method, target, body string
		header                     map[string]string
		status                     int
		code                       string
	}{
		{name: "no key", method: "GET", target: "/v1/ingest/documents", status: 401, code: "unauthorized"},
		{name: "wrong key", method: "GET", target: "/v1/ingest/documents", header: map[string]string{"Authorization": "Bearer nope"}, status: 401, code: "unauthorized"},
		{name: "ingest's metrics are not forwarded", method: "GET", target: "/v1/ingest/metrics", header: key, status: 404, code: "not_found"},
		{name: "ingest's root is not forwarded", method: "POST", target: "/v1/ingest/", header: key, status: 404, code: "not_found"},
		{name: "dot segments", method: "POST", target: "/v1/ingest/documents/..", header: key, status: 404, code: "not_found"},
		{name: "escaped slash in an id", method: "GET", target: "/v1/ingest/documents/a%2F..%2Fmetrics", header: key, status: 404, code: "not_found"},
		{name: "deeper paths", method: "GET", target: "/v1/ingest/documents/a/b", header: key, status: 404, code: "not_found"},
		{name: "body over the limit (declared)", method: "POST", target: "/v1/ingest/documents", body: strings.Repeat("x", 2000), header: key, status: 413, code: "payload_too_large"},
	}
	for _, tc := range cases {
		rec := send(handler, tc.method, tc.target, tc.body, tc.header)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != tc.status || errorCode(body) != tc.code {
			t.Fatalf("%s: %d %s, want %d %s", tc.name, rec.Code, rec.Body.String(), tc.status, tc.code)
		}
	}
	if n := len(got()); n != 0 {
		t.Fatalf("%d refused requests reached ingest", n)
	}
}

func TestIngestProxyStreamedBodyOverTheLimit(t *testing.T) {
	t.Parallel()
	handler, _ := proxyFixture(t, nil, 1024)
	req := serverRequest("POST", "/v1/ingest/documents", io.NopCloser(strings.NewReader(strings.Repeat("x", 5000))))
	req.ContentLength = -1 // chunked: the limit is found while forwarding
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != http.StatusRequestEntityTooLarge || errorCode(body) != "payload_too_large" {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}

func TestIngestProxyIngestDown(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	proxy, err := NewIngestProxy(closed.URL, 1024, log)
	if err != nil {
		t.Fatal(err)
	}
	handler := New(Deps{Keys: NewKeys(nil), Metrics: metrics.New(), Log: log, Timeout: time.Second, Ingest: proxy})
	rec := send(handler, "GET", "/v1/ingest/documents", "", nil)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != http.StatusBadGateway || errorCode(body) != "ingest_unavailable" {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}
