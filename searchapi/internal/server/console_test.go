package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"sluice.dev/searchapi/internal/metrics"
)

var consoleFiles = fstest.MapFS{
	"index.html":                {Data: []byte("<!doctype html><div id=root></div>")},
	"index.html.br":             {Data: []byte("BR-INDEX")},
	"index.html.gz":             {Data: []byte("GZ-INDEX")},
	"assets/index-abc123.js":    {Data: []byte("console.log(1)")},
	"assets/index-abc123.js.gz": {Data: []byte("GZ-JS")},
	"favicon.svg":               {Data: []byte("<svg/>")},
}

func consoleServer(files *Console) http.Handler {
	return New(Deps{
		Service: nil, Keys: NewKeys(map[string]string{"k1": "acme"}), Metrics: metrics.New(),
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Timeout: time.Second, Console: files,
	})
}

func TestConsoleFiles(t *testing.T) {
	t.Parallel()
	handler := consoleServer(NewConsole(consoleFiles))
	cases := []struct {
		name, target, accept               string
		status                             int
		body, cache, encoding, contentType string
	}{
		{name: "index at the root", target: "/", status: 200, body: "<!doctype html><div id=root></div>", cache: "no-cache", contentType: "text/html; charset=utf-8"},
		{name: "a client-side route gets index.html", target: "/documents/doc-1", status: 200, body: "<!doctype html><div id=root></div>", cache: "no-cache"},
		{name: "brotli when accepted", target: "/", accept: "gzip, deflate, br", status: 200, body: "BR-INDEX", encoding: "br"},
		{name: "gzip when brotli is refused", target: "/", accept: "br;q=0, gzip", status: 200, body: "GZ-INDEX", encoding: "gzip"},
		{name: "identity when nothing is accepted", target: "/", accept: "identity", status: 200, body: "<!doctype html><div id=root></div>"},
		{name: "hashed asset cached for a year", target: "/assets/index-abc123.js", status: 200, body: "console.log(1)", cache: "public, max-age=31536000, immutable", contentType: "text/javascript; charset=utf-8"},
		{name: "asset gzipped", target: "/assets/index-abc123.js", accept: "gzip", status: 200, body: "GZ-JS", encoding: "gzip"},
		{name: "asset without a compressed copy", target: "/favicon.svg", accept: "br", status: 200, body: "<svg/>", cache: "no-cache"},
		{name: "missing asset is a 404, not index.html", target: "/assets/gone-123.js", status: 404},
		{name: "missing file with an extension is a 404", target: "/robots.txt", status: 404},
		{name: "a route whose id has an extension gets index.html", target: "/documents/alpha.md", status: 200, body: "<!doctype html><div id=root></div>", cache: "no-cache"},
		{name: "dot segments stay inside (a route of the console)", target: "/../../etc/passwd", status: 200, body: "<!doctype html><div id=root></div>"},
		{name: "dot segments to a file stay inside (the console's page, never the host's file)", target: "/assets/../../../etc/passwd.txt", status: 200, body: "<!doctype html><div id=root></div>"},
		{name: "dot segments to a root file stay inside", target: "/assets/../../../passwd.txt", status: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, tc.target, nil)
			if tc.accept != "" {
				req.Header.Set("Accept-Encoding", tc.accept)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			if got := rec.Header().Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") {
				t.Fatalf("Content-Security-Policy %q", got)
			}
			if tc.status != 200 {
				if !strings.Contains(rec.Body.String(), `"not_found"`) {
					t.Fatalf("body %q is not the JSON error", rec.Body.String())
				}
				return
			}
			if rec.Body.String() != tc.body {
				t.Fatalf("body %q, want %q", rec.Body.String(), tc.body)
			}
			if tc.cache != "" && rec.Header().Get("Cache-Control") != tc.cache {
				t.Fatalf("Cache-Control %q, want %q", rec.Header().Get("Cache-Control"), tc.cache)
			}
			if rec.Header().Get("Content-Encoding") != tc.encoding {
				t.Fatalf("Content-Encoding %q, want %q", rec.Header().Get("Content-Encoding"), tc.encoding)
			}
			if tc.contentType != "" && rec.Header().Get("Content-Type") != tc.contentType {
				t.Fatalf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tc.contentType)
			}
			if rec.Header().Get("Vary") != "Accept-Encoding" {
				t.Fatalf("Vary %q", rec.Header().Get("Vary"))
			}
		})
	}
}

func TestConsoleRevalidates(t *testing.T) {
	t.Parallel()
	handler := consoleServer(NewConsole(consoleFiles))
	first := httptest.NewRecorder()
	handler.ServeHTTP(first, httptest.NewRequest(http.MethodGet, "/", nil))
	etag := first.Header().Get("ETag")
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("If-None-Match", etag)
	again := httptest.NewRecorder()
	handler.ServeHTTP(again, req)
	if etag == "" || again.Code != http.StatusNotModified {
		t.Fatalf("ETag %q, then %d", etag, again.Code)
	}
}

func TestConsoleLeavesTheAPIAlone(t *testing.T) {
	t.Parallel()
	handler := consoleServer(NewConsole(consoleFiles))
	for _, target := range []string{"/v1/unknown", "/v1", "/v2/search"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", "Bearer k1")
		handler.ServeHTTP(rec, req)
		isAPI := strings.HasPrefix(target, "/v1")
		if isAPI && (rec.Code != 404 || !strings.Contains(rec.Body.String(), `"not_found"`)) {
			t.Fatalf("%s: %d %s, want the JSON 404", target, rec.Code, rec.Body.String())
		}
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x")))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), `"not_found"`) {
		t.Fatalf("POST /: %d %s", rec.Code, rec.Body.String())
	}
}

func TestConsoleNotBuilt(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	consoleServer(NewConsole(nil)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/documents", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "make web") {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}
