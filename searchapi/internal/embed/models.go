package embed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// HashingName is the embedder computed in process.
const HashingName = "hashing"

// ErrMismatch is wrapped when the endpoint serves another build of the model than the one
// asked for (its identity does not match).
var ErrMismatch = errors.New("embedder serves another build")

// Models embeds queries with the embedder of any identity: the hashing embedder in process,
// every other model through the embedding endpoint, which is asked for it by name. Each is
// made on first use and kept behind its own LRU cache, so that during a model change the
// old and the new model are both at hand. It is safe for concurrent use.
type Models struct {
	url       string
	token     string
	client    *http.Client
	cacheSize int
	observe   func(hit bool)
	wrap      func(Embedder) Embedder

	mu       sync.Mutex
	embedder map[Identity]Embedder
}

// NewModels returns the embedders of the endpoint at url (empty: hashing only), each wrapped
// by wrap (nil: as is) and then cached (cacheSize texts each; observe sees every lookup).
func NewModels(url, token string, client *http.Client, cacheSize int, observe func(bool), wrap func(Embedder) Embedder) *Models {
	if wrap == nil {
		wrap = func(e Embedder) Embedder { return e }
	}
	return &Models{url: url, token: token, client: client, cacheSize: cacheSize, observe: observe,
		wrap: wrap, embedder: map[Identity]Embedder{}}
}

// Embed embeds texts with the embedder of identity; an endpoint that answers with another
// build than identity's is an error wrapping ErrMismatch.
func (m *Models) Embed(ctx context.Context, identity Identity, texts []string) ([][]float32, error) {
	embedder, err := m.of(identity)
	if err != nil {
		return nil, err
	}
	vectors, err := embedder.Embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	if reported := embedder.Identity(); !reported.Matches(identity) {
		return nil, fmt.Errorf("%w: asked for %+v, the endpoint answered with %+v", ErrMismatch, identity, reported)
	}
	return vectors, nil
}

func (m *Models) of(identity Identity) (Embedder, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if embedder, ok := m.embedder[identity]; ok {
		return embedder, nil
	}
	var inner Embedder
	switch {
	case identity.Dim <= 0:
		return nil, fmt.Errorf("%w: embedder %+v has no dimension", ErrMismatch, identity)
	case identity.Name == HashingName:
		inner = NewHashing(identity.Dim)
	case m.url == "":
		return nil, fmt.Errorf("%w: no embedding endpoint is configured (embedder.url) for %s", ErrUnavailable, identity.Name)
	default:
		inner = NewHTTP(m.url, identity.Name, identity.Dim, m.token, m.client)
	}
	// The build is checked under the cache too, so that vectors of another build are never
	// cached (errors are not): once the endpoint serves the right build again, a text
	// embedded while it did not is embedded again rather than answered from the cache.
	cached, err := NewCached(verified{m.wrap(inner), identity}, m.cacheSize, m.observe)
	if err != nil {
		return nil, err
	}
	m.embedder[identity] = cached
	return cached, nil
}

// verified is an embedder whose answers are refused (ErrMismatch) when it reports another
// build than identity's.
type verified struct {
	Embedder
	identity Identity
}

func (v verified) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	vectors, err := v.Embedder.Embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	if reported := v.Identity(); !reported.Matches(v.identity) {
		return nil, fmt.Errorf("%w: asked for %+v, the endpoint answered with %+v", ErrMismatch, v.identity, reported)
	}
	return vectors, nil
}
