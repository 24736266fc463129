package embed

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// modelsEndpoint is an embedding endpoint serving any model asked for by name, reporting
// the version set for it (version "" by default); component 0 of a vector is the length of
// its text, component 1 is 1. It counts the requests per model.
type modelsEndpoint struct {
	t   *testing.T
	dim int

	mu       sync.Mutex
	versions map[string]string
	requests map[string]int
	tokens   []string
}

func newModelsEndpoint(t *testing.T, dim int) (*modelsEndpoint, *httptest.Server) {
	t.Helper()
	e := &modelsEndpoint{t: t, dim: dim, versions: map[string]string{}, requests: map[string]int{}}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return e, srv
}

func (e *modelsEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Input []string `json:"input"`
		Model string   `json:"model"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		e.t.Errorf("decoding the request: %v", err)
	}
	e.mu.Lock()
	e.requests[req.Model]++
	e.tokens = append(e.tokens, r.Header.Get("Authorization"))
	version := e.versions[req.Model]
	e.mu.Unlock()
	type item struct {
		Embedding []float32 `json:"embedding"`
		Index     int       `json:"index"`
	}
	data := []item{}
	for i, text := range req.Input {
		v := make([]float32, e.dim)
		v[0], v[1] = float32(len(text)), 1
		data = append(data, item{Embedding: v, Index: i})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model,
		"embedder": Identity{Name: req.Model, Dim: e.dim, Version: version}})
}

func (e *modelsEndpoint) serve(model, version string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.versions[model] = version
}

func (e *modelsEndpoint) asked(model string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests[model]
}

func TestModelsEmbedsHashingInProcess(t *testing.T) {
	t.Parallel()
	endpoint, srv := newModelsEndpoint(t, 32)
	texts := []string{"the water mill", "bees and honey"}
	for _, url := range []string{"", srv.URL} {
		models := NewModels(url, "", srv.Client(), 8, nil, nil)
		for _, identity := range []Identity{
			{Name: HashingName, Dim: 32, Version: "1"},
			{Name: HashingName, Dim: 32}, // version unknown
			{Name: HashingName, Dim: 384, Version: "1"},
		} {
			got, err := models.Embed(t.Context(), identity, texts)
			if err != nil {
				t.Fatalf("url %q, %+v: %v", url, identity, err)
			}
			want, err := NewHashing(identity.Dim).Embed(t.Context(), texts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("url %q, %+v: vectors are not the hashing embedder's of dimension %d", url, identity, identity.Dim)
			}
		}
	}
	if n := endpoint.asked(HashingName); n != 0 {
		t.Fatalf("the endpoint was asked %d times for hashing vectors", n)
	}
}

func TestModelsAsksTheEndpointForTheModelByName(t *testing.T) {
	t.Parallel()
	endpoint, srv := newModelsEndpoint(t, 4)
	endpoint.serve("e5-small", "v4")
	wrapped := 0
	wrap := func(inner Embedder) Embedder { wrapped++; return inner }
	models := NewModels(srv.URL, "secret", srv.Client(), 8, nil, wrap)

	for _, identity := range []Identity{{Name: "e5-small", Dim: 4, Version: "v4"}, {Name: "minilm", Dim: 4}} {
		got, err := models.Embed(t.Context(), identity, []string{"abc", "de"})
		if err != nil {
			t.Fatalf("%+v: %v", identity, err)
		}
		if want := [][]float32{{3, 1, 0, 0}, {2, 1, 0, 0}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("%+v: vectors %v, want the endpoint's %v", identity, got, want)
		}
		if n := endpoint.asked(identity.Name); n != 1 {
			t.Fatalf("the endpoint was asked %d times for %q, want once", n, identity.Name)
		}
	}
	if wrapped != 2 {
		t.Fatalf("wrap called %d times, want once per identity", wrapped)
	}
	endpoint.mu.Lock()
	defer endpoint.mu.Unlock()
	for _, token := range endpoint.tokens {
		if token != "Bearer secret" {
			t.Fatalf("Authorization %q, want the internal token", token)
		}
	}
}

func TestModelsCachesPerIdentity(t *testing.T) {
	t.Parallel()
	endpoint, srv := newModelsEndpoint(t, 4)
	var mu sync.Mutex
	var hits, misses int
	observe := func(hit bool) {
		mu.Lock()
		defer mu.Unlock()
		if hit {
			hits++
		} else {
			misses++
		}
	}
	models := NewModels(srv.URL, "", srv.Client(), 8, observe, nil)
	a := Identity{Name: "model-a", Dim: 4}
	b := Identity{Name: "model-b", Dim: 4}
	for _, identity := range []Identity{a, b, a, b, a} {
		if _, err := models.Embed(t.Context(), identity, []string{"water"}); err != nil {
			t.Fatal(err)
		}
	}
	if endpoint.asked("model-a") != 1 || endpoint.asked("model-b") != 1 {
		t.Fatalf("asked for model-a %d times, model-b %d times; want each once (then cached)",
			endpoint.asked("model-a"), endpoint.asked("model-b"))
	}
	if hits != 3 || misses != 2 {
		t.Fatalf("observed %d hits and %d misses, want 3 and 2", hits, misses)
	}
}

func TestModelsRefusesAnotherBuild(t *testing.T) {
	t.Parallel()
	endpoint, srv := newModelsEndpoint(t, 4)
	models := NewModels(srv.URL, "", srv.Client(), 8, nil, nil)
	identity := Identity{Name: "e5-small", Dim: 4, Version: "v4"}

	endpoint.serve("e5-small", "v3")
	for range 2 {
		if _, err := models.Embed(t.Context(), identity, []string{"water"}); !errors.Is(err, ErrMismatch) {
			t.Fatalf("an answer of version v3 for %+v: %v, want ErrMismatch", identity, err)
		}
	}
	// The refused vectors were not cached: once the endpoint serves v4, the text is embedded
	// again.
	asked := endpoint.asked("e5-small")
	endpoint.serve("e5-small", "v4")
	if _, err := models.Embed(t.Context(), identity, []string{"water"}); err != nil {
		t.Fatalf("once the endpoint serves v4: %v", err)
	}
	if endpoint.asked("e5-small") != asked+1 {
		t.Fatal("a vector of the other build was answered from the cache")
	}

	// The hashing embedder is of version 1: another version cannot be computed here.
	_, err := NewModels("", "", nil, 8, nil, nil).Embed(t.Context(), Identity{Name: HashingName, Dim: 4, Version: "2"}, []string{"water"})
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("hashing version 2: %v, want ErrMismatch", err)
	}
}

func TestModelsWithoutAnEndpoint(t *testing.T) {
	t.Parallel()
	models := NewModels("", "", nil, 8, nil, nil)
	_, err := models.Embed(t.Context(), Identity{Name: "e5-small", Dim: 384, Version: "v4"}, []string{"water"})
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrMismatch) {
		t.Fatalf("a model without embedder.url: %v, want ErrUnavailable", err)
	}
	if _, err := models.Embed(context.Background(), Identity{Name: HashingName}, []string{"water"}); !errors.Is(err, ErrMismatch) {
		t.Fatalf("an identity without dimension: %v, want ErrMismatch", err)
	}
}
