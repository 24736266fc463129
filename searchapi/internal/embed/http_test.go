package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeEndpoint serves embeddings of dim components where component 0 is the
// text's length, answering with the indexes in reverse order.
func fakeEndpoint(t *testing.T, dim int) http.HandlerFunc {
	t.Helper()
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		var req struct {
			Input []string `json:"input"`
			Model string   `json:"model"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("decoding the request: %v", err)
		}
		if req.Model != "test-model" {
			t.Errorf("model = %q, want test-model", req.Model)
		}
		type item struct {
			Embedding []float32 `json:"embedding"`
			Index     int       `json:"index"`
			Object    string    `json:"object"`
		}
		var data []item
		for i := len(req.Input) - 1; i >= 0; i-- {
			v := make([]float32, dim)
			v[0] = float32(len(req.Input[i]))
			data = append(data, item{Embedding: v, Index: i, Object: "embedding"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
	}
}

// answer serves a fixed status and body.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func TestHTTPEmbed(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(fakeEndpoint(t, 4))
	t.Cleanup(srv.Close)
	e := NewHTTP(srv.URL+"/v1/embeddings", "test-model", 4, "", srv.Client())

	texts := []string{"a", "bbb", "cc"}
	got, err := e.Embed(t.Context(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(texts) {
		t.Fatalf("got %d vectors, want %d", len(got), len(texts))
	}
	for i, text := range texts {
		want := []float32{float32(len(text)), 0, 0, 0}
		if !slices.Equal(got[i], want) {
			t.Errorf("vector %d = %v, want %v", i, got[i], want)
		}
	}
	if want := (Identity{Name: "test-model", Dim: 4}); e.Identity() != want {
		t.Errorf("Identity() of an endpoint that does not report one = %+v, want %+v", e.Identity(), want)
	}
}

// reporting serves one embedding per input, adding `embedder` to the answer
// as Sluice's endpoint does.
func reporting(embedder string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input []string `json:"input"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		data := make([]map[string]any, len(req.Input))
		for i := range req.Input {
			data[i] = map[string]any{"object": "embedding", "index": i, "embedding": []float32{1, 0, 0, 0}}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"object": "list", "data": %s, "model": "test-model", "embedder": %s}`,
			must(json.Marshal(data)), embedder)
	}
}

func must(raw []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return raw
}

func TestHTTPIdentity(t *testing.T) {
	t.Parallel()
	configured := Identity{Name: "test-model", Dim: 4}
	tests := []struct {
		name     string
		embedder string // the answer's "embedder" field
		want     Identity
		fails    bool
	}{
		{name: "reported", embedder: `{"name": "test-model", "dim": 4, "version": "onnx-1"}`,
			want: Identity{Name: "test-model", Dim: 4, Version: "onnx-1"}},
		{name: "reported without a version", embedder: `{"name": "test-model", "dim": 4, "version": ""}`,
			want: configured},
		{name: "null", embedder: `null`, want: configured},
		{name: "another model", embedder: `{"name": "other-model", "dim": 4, "version": "1"}`,
			want: configured, fails: true},
		{name: "another dimension", embedder: `{"name": "test-model", "dim": 8, "version": "1"}`,
			want: configured, fails: true},
		{name: "not an identity", embedder: `"test-model"`, want: configured, fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(reporting(tt.embedder))
			t.Cleanup(srv.Close)
			e := NewHTTP(srv.URL, "test-model", 4, "", srv.Client())
			if got := e.Identity(); got != configured {
				t.Fatalf("Identity() before any answer = %+v, want %+v", got, configured)
			}
			_, err := e.Embed(t.Context(), []string{"a"})
			if tt.fails != errors.Is(err, ErrBadResponse) {
				t.Fatalf("Embed() error = %v, want ErrBadResponse: %v", err, tt.fails)
			}
			if got := e.Identity(); got != tt.want {
				t.Errorf("Identity() after the answer = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHTTPIdentityIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(reporting(`{"name": "test-model", "dim": 4, "version": "v2"}`))
	t.Cleanup(srv.Close)
	e := NewHTTP(srv.URL, "test-model", 4, "", srv.Client())
	done := make(chan error)
	for range 8 {
		go func() {
			_, err := e.Embed(t.Context(), []string{"a"})
			_ = e.Identity()
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := e.Identity().Version; got != "v2" {
		t.Errorf("version %q, want v2", got)
	}
}

func TestIdentityMatches(t *testing.T) {
	t.Parallel()
	hashing := Identity{Name: "hashing", Dim: 384, Version: "1"}
	tests := []struct {
		name  string
		other Identity
		want  bool
	}{
		{"equal", hashing, true},
		{"other version unknown", Identity{Name: "hashing", Dim: 384}, true},
		{"other version", Identity{Name: "hashing", Dim: 384, Version: "2"}, false},
		{"other name", Identity{Name: "all-MiniLM-L6-v2", Dim: 384, Version: "1"}, false},
		{"other dimension", Identity{Name: "hashing", Dim: 16, Version: "1"}, false},
		{"other dimension, version unknown", Identity{Name: "hashing", Dim: 16}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := hashing.Matches(tt.other); got != tt.want {
				t.Errorf("%+v.Matches(%+v) = %v, want %v", hashing, tt.other, got, tt.want)
			}
			if got := tt.other.Matches(hashing); got != tt.want {
				t.Errorf("Matches is not symmetric for %+v", tt.other)
			}
		})
	}
}

func TestIdentityJSON(t *testing.T) {
	t.Parallel()
	// The JSON the Python index function records in the collection property sluice.embedder.
	const recorded = `{"name":"hashing","dim":384,"version":"1"}`
	var got Identity
	if err := json.Unmarshal([]byte(recorded), &got); err != nil || got != (Identity{"hashing", 384, "1"}) {
		t.Fatalf("got %+v, %v", got, err)
	}
	if raw, _ := json.Marshal(got); string(raw) != recorded {
		t.Errorf("marshalled %s, want %s", raw, recorded)
	}
}

func TestHTTPEmbedNoTexts(t *testing.T) {
	t.Parallel()
	// No request is sent: the URL is never dialled.
	got, err := NewHTTP("http://127.0.0.1:1/v1/embeddings", "m", 4, "", nil).Embed(t.Context(), nil)
	if err != nil || len(got) != 0 {
		t.Errorf("Embed(nil) = %v, %v; want no vectors, no error", got, err)
	}
}

func TestHTTPEmbedErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error
		message string // a part of the error message
	}{
		{
			name:    "wrong dimension",
			handler: fakeEndpoint(t, 3),
			want:    ErrBadResponse,
			message: "3 components, want 4",
		},
		{
			name:    "wrong count",
			handler: answer(200, `{"data":[{"embedding":[1,2,3,4],"index":0}],"model":"test-model"}`),
			want:    ErrBadResponse,
			message: "1 embeddings for 2 texts",
		},
		{
			name: "repeated index",
			handler: answer(200, `{"data":[{"embedding":[1,2,3,4],"index":1},`+
				`{"embedding":[1,2,3,4],"index":1}]}`),
			want:    ErrBadResponse,
			message: "index 1 repeated",
		},
		{
			name: "index out of range",
			handler: answer(200, `{"data":[{"embedding":[1,2,3,4],"index":0},`+
				`{"embedding":[1,2,3,4],"index":2}]}`),
			want:    ErrBadResponse,
			message: "index 2 out of range",
		},
		{
			name: "missing index",
			handler: answer(200, `{"data":[{"embedding":[1,2,3,4],"index":0},`+
				`{"embedding":[1,2,3,4]}]}`),
			want:    ErrBadResponse,
			message: "without index",
		},
		{
			name:    "not json",
			handler: answer(200, `<html>hello</html>`),
			want:    ErrBadResponse,
		},
		{
			name:    "server error",
			handler: answer(500, `{"error":{"message":"model crashed","type":"server_error"}}`),
			want:    ErrUnavailable,
			message: "model crashed",
		},
		{
			name:    "bad gateway without body",
			handler: answer(502, ``),
			want:    ErrUnavailable,
			message: "502",
		},
		{
			name:    "rate limited",
			handler: answer(429, `{"error":"slow down"}`),
			want:    ErrUnavailable,
			message: "slow down",
		},
		{
			name:    "bad request",
			handler: answer(400, `{"error":{"message":"input too long","type":"invalid_request_error"}}`),
			want:    ErrBadResponse,
			message: "400 Bad Request: input too long",
		},
		{
			name:    "not found with detail",
			handler: answer(404, `{"detail":"Not Found"}`),
			want:    ErrBadResponse,
			message: "Not Found",
		},
		{
			name:    "unprocessable with plain text",
			handler: answer(422, "no such model"),
			want:    ErrBadResponse,
			message: "no such model",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			e := NewHTTP(srv.URL, "test-model", 4, "", srv.Client())
			got, err := e.Embed(t.Context(), []string{"a", "b"})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Embed() = %v, %v; want an error wrapping %v", got, err, tt.want)
			}
			other := ErrUnavailable
			if errors.Is(tt.want, ErrUnavailable) {
				other = ErrBadResponse
			}
			if errors.Is(err, other) {
				t.Errorf("error %v also wraps %v", err, other)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not mention %q", err, tt.message)
			}
		})
	}
}

func TestHTTPEmbedConnectionRefused(t *testing.T) {
	t.Parallel()
	// Listen, then close, to get a local port nobody listens on.
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s/v1/embeddings", ln.Addr())
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = NewHTTP(url, "test-model", 4, "", nil).Embed(t.Context(), []string{"a"})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

func TestHTTPEmbedContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	e := NewHTTP(srv.URL, "test-model", 4, "", srv.Client())

	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err := e.Embed(ctx, []string{"a"})
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
			t.Errorf("err = %v, want context.Canceled and not ErrUnavailable", err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := e.Embed(ctx, []string{"a"})
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
			t.Errorf("err = %v, want context.Canceled and not ErrUnavailable", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		_, err := e.Embed(ctx, []string{"a"})
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want ErrUnavailable and context.DeadlineExceeded", err)
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		t.Parallel()
		client := &http.Client{Transport: srv.Client().Transport, Timeout: 20 * time.Millisecond}
		_, err := NewHTTP(srv.URL, "test-model", 4, "", client).Embed(t.Context(), []string{"a"})
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("err = %v, want ErrUnavailable", err)
		}
	})
}

func TestErrorMessageShortens(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", maxMessageBytes)
	got := errorMessage([]byte(`{"error":{"message":"` + long + `"}}`))
	if len(got) > maxMessageBytes+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("message of %d bytes not shortened: %d bytes", len(long), len(got))
	}
	if !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) {
		t.Error("shortened message cut inside a rune")
	}
}

func TestHTTPEmbedPresentsTheInternalToken(t *testing.T) {
	t.Parallel()
	for _, token := range []string{"", "s3cret-token"} {
		var seen atomic.Value
		inner := fakeEndpoint(t, 4)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.Store(r.Header.Get("Authorization"))
			inner.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		if _, err := NewHTTP(srv.URL, "test-model", 4, token, srv.Client()).Embed(t.Context(), []string{"a"}); err != nil {
			t.Fatal(err)
		}
		want := ""
		if token != "" {
			want = "Bearer " + token
		}
		if got := seen.Load(); got != want {
			t.Errorf("token %q: Authorization = %q, want %q", token, got, want)
		}
	}
}
