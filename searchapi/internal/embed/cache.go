package embed

import (
	"context"
	"errors"
	"fmt"
	"slices"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Cached is an LRU cache of text -> vector in front of another embedder. It
// is safe for concurrent use. Vectors it returns are the caller's own: changing
// them does not change the cache.
//
// Concurrent misses of the same text are not coalesced: each calls the inner
// embedder.
type Cached struct {
	inner   Embedder
	cache   *lru.Cache[string, []float32] // nil when caching is off
	observe func(hit bool)
}

var _ Embedder = (*Cached)(nil)

// NewCached returns inner behind an LRU cache of size texts. Size 0 turns
// caching off (every text is a miss). observe, if not nil, is called once per
// text that Embed is given, reporting whether the cache held its vector; it
// must be safe for concurrent use.
func NewCached(inner Embedder, size int, observe func(hit bool)) (*Cached, error) {
	if inner == nil {
		return nil, errors.New("embed: cached embedder without an inner embedder")
	}
	if size < 0 {
		return nil, fmt.Errorf("embed: cache size must not be negative, got %d", size)
	}
	if observe == nil {
		observe = func(bool) {}
	}
	c := &Cached{inner: inner, observe: observe}
	if size > 0 {
		cache, err := lru.New[string, []float32](size)
		if err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		c.cache = cache
	}
	return c, nil
}

// Identity returns the inner embedder's identity.
func (c *Cached) Identity() Identity { return c.inner.Identity() }

// Embed returns the cached vectors of texts and embeds the others, each
// distinct text once, in a single call to the inner embedder, whose answers it
// caches. Errors are not cached.
func (c *Cached) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if c.cache == nil {
		for range texts {
			c.observe(false)
		}
		return c.inner.Embed(ctx, texts)
	}

	out := make([][]float32, len(texts))
	var misses []string            // distinct texts to embed, in order of appearance
	var positions map[string][]int // where each miss goes in out
	for i, text := range texts {
		if v, ok := c.cache.Get(text); ok {
			c.observe(true)
			out[i] = slices.Clone(v)
			continue
		}
		c.observe(false)
		if positions == nil {
			positions = make(map[string][]int)
		}
		if _, seen := positions[text]; !seen {
			misses = append(misses, text)
		}
		positions[text] = append(positions[text], i)
	}
	if len(misses) == 0 {
		return out, nil
	}

	vectors, err := c.inner.Embed(ctx, misses)
	if err != nil {
		return nil, err
	}
	if len(vectors) != len(misses) {
		return nil, fmt.Errorf("%w: %d vectors for %d texts", ErrBadResponse, len(vectors), len(misses))
	}
	for j, text := range misses {
		v := vectors[j]
		c.cache.Add(text, slices.Clone(v))
		for k, i := range positions[text] {
			if k > 0 {
				v = slices.Clone(v)
			}
			out[i] = v
		}
	}
	return out, nil
}
