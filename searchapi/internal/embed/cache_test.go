package embed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeEmbedder embeds a text as {len(text), number of the call}, records the
// texts of each call, and fails while err is set.
type fakeEmbedder struct {
	mu    sync.Mutex
	calls [][]string
	err   error
}

func (f *fakeEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, slices.Clone(texts))
	if f.err != nil {
		return nil, f.err
	}
	out := make([][]float32, len(texts))
	for i, text := range texts {
		out[i] = []float32{float32(len(text)), float32(len(f.calls))}
	}
	return out, nil
}

func (f *fakeEmbedder) Identity() Identity { return Identity{Name: "fake", Dim: 2, Version: "test"} }

func (f *fakeEmbedder) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeEmbedder) callTexts() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// observer counts hits and misses.
type observer struct{ hits, misses atomic.Int64 }

func (o *observer) observe(hit bool) {
	if hit {
		o.hits.Add(1)
	} else {
		o.misses.Add(1)
	}
}

func (o *observer) counts() (hits, misses int64) { return o.hits.Load(), o.misses.Load() }

// embedStep is one Embed call of a scenario and what should follow from it.
type embedStep struct {
	texts      []string
	innerTexts []string // the texts of the inner call, nil if none
	want       [][]float32
	hits       int64 // cumulative
	misses     int64 // cumulative
}

func TestCached(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		size  int
		steps []embedStep
	}{
		{
			name: "hits do not call inner",
			size: 10,
			steps: []embedStep{
				{texts: []string{"a", "bb"}, innerTexts: []string{"a", "bb"},
					want: [][]float32{{1, 1}, {2, 1}}, misses: 2},
				{texts: []string{"bb", "a"}, want: [][]float32{{2, 1}, {1, 1}}, hits: 2, misses: 2},
			},
		},
		{
			name: "misses batched in one call",
			size: 10,
			steps: []embedStep{
				{texts: []string{"a"}, innerTexts: []string{"a"}, want: [][]float32{{1, 1}}, misses: 1},
				{texts: []string{"bb", "a", "ccc", "bb"}, innerTexts: []string{"bb", "ccc"},
					want: [][]float32{{2, 2}, {1, 1}, {3, 2}, {2, 2}}, hits: 1, misses: 4},
			},
		},
		{
			name: "least recently used evicted",
			size: 2,
			steps: []embedStep{
				{texts: []string{"a", "bb"}, innerTexts: []string{"a", "bb"},
					want: [][]float32{{1, 1}, {2, 1}}, misses: 2},
				{texts: []string{"a"}, want: [][]float32{{1, 1}}, hits: 1, misses: 2}, // bb is now oldest
				{texts: []string{"ccc"}, innerTexts: []string{"ccc"},
					want: [][]float32{{3, 2}}, hits: 1, misses: 3}, // evicts bb
				{texts: []string{"a", "bb"}, innerTexts: []string{"bb"},
					want: [][]float32{{1, 1}, {2, 3}}, hits: 2, misses: 4},
			},
		},
		{
			name: "size 0 passes through",
			size: 0,
			steps: []embedStep{
				{texts: []string{"a", "a"}, innerTexts: []string{"a", "a"},
					want: [][]float32{{1, 1}, {1, 1}}, misses: 2},
				{texts: []string{"a"}, innerTexts: []string{"a"}, want: [][]float32{{1, 2}}, misses: 3},
			},
		},
		{
			name: "no texts",
			size: 10,
			steps: []embedStep{
				{texts: []string{}, want: [][]float32{}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inner := &fakeEmbedder{}
			var obs observer
			c, err := NewCached(inner, tt.size, obs.observe)
			if err != nil {
				t.Fatal(err)
			}
			var wantCalls [][]string
			for n, step := range tt.steps {
				got, err := c.Embed(t.Context(), step.texts)
				if err != nil {
					t.Fatalf("step %d: %v", n, err)
				}
				if len(got) != len(step.want) {
					t.Fatalf("step %d: got %d vectors, want %d", n, len(got), len(step.want))
				}
				for i := range got {
					if !slices.Equal(got[i], step.want[i]) {
						t.Errorf("step %d: vector %d = %v, want %v", n, i, got[i], step.want[i])
					}
				}
				if step.innerTexts != nil {
					wantCalls = append(wantCalls, step.innerTexts)
				}
				if calls := inner.callTexts(); !slices.EqualFunc(calls, wantCalls, slices.Equal) {
					t.Errorf("step %d: inner calls %q, want %q", n, calls, wantCalls)
				}
				if hits, misses := obs.counts(); hits != step.hits || misses != step.misses {
					t.Errorf("step %d: observed %d hits, %d misses; want %d, %d",
						n, hits, misses, step.hits, step.misses)
				}
			}
		})
	}
}

func TestCachedErrorsNotCached(t *testing.T) {
	t.Parallel()
	inner := &fakeEmbedder{}
	c, err := NewCached(inner, 10, nil) // a nil observe is allowed
	if err != nil {
		t.Fatal(err)
	}
	down := fmt.Errorf("%w: connection refused", ErrUnavailable)
	inner.setErr(down)
	if _, err := c.Embed(t.Context(), []string{"a"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	inner.setErr(nil)
	got, err := c.Embed(t.Context(), []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 2}; !slices.Equal(got[0], want) {
		t.Errorf("got %v, want %v (embedded by the second call)", got[0], want)
	}
	if n := len(inner.callTexts()); n != 2 {
		t.Errorf("inner called %d times, want 2", n)
	}
}

func TestCachedReturnsCopies(t *testing.T) {
	t.Parallel()
	c, err := NewCached(&fakeEmbedder{}, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Embed(t.Context(), []string{"a", "a"})
	if err != nil {
		t.Fatal(err)
	}
	first[0][0], first[1][1] = 99, 99
	again, err := c.Embed(t.Context(), []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 1}; !slices.Equal(again[0], want) {
		t.Errorf("got %v, want %v: the caller changed the cache", again[0], want)
	}
}

// shortEmbedder returns one vector fewer than asked.
type shortEmbedder struct{ fakeEmbedder }

func (s *shortEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out, err := s.fakeEmbedder.Embed(ctx, texts)
	return out[1:], err
}

func TestCachedInnerWrongCount(t *testing.T) {
	t.Parallel()
	c, err := NewCached(&shortEmbedder{}, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Embed(t.Context(), []string{"a", "b"}); !errors.Is(err, ErrBadResponse) {
		t.Errorf("err = %v, want ErrBadResponse", err)
	}
}

func TestNewCached(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		inner   Embedder
		size    int
		wantErr bool
	}{
		{"positive size", &fakeEmbedder{}, 1, false},
		{"zero size", &fakeEmbedder{}, 0, false},
		{"negative size", &fakeEmbedder{}, -1, true},
		{"no inner", nil, 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewCached(tt.inner, tt.size, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewCached() error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && c.Identity() != tt.inner.Identity() {
				t.Errorf("Identity() = %+v, want the inner embedder's %+v", c.Identity(), tt.inner.Identity())
			}
		})
	}
}

func TestCachedConcurrent(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 8, 1000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			t.Parallel()
			var obs observer
			c, err := NewCached(NewHashing(16), size, obs.observe)
			if err != nil {
				t.Fatal(err)
			}
			texts := make([]string, 50)
			for i := range texts {
				texts[i] = fmt.Sprintf("query number %d", i)
			}
			want, err := NewHashing(16).Embed(t.Context(), texts)
			if err != nil {
				t.Fatal(err)
			}
			const workers, rounds = 8, 50
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for r := range rounds {
						i := (w*7 + r*3) % len(texts)
						j := (i + 1 + r) % len(texts)
						got, err := c.Embed(context.Background(), []string{texts[i], texts[j]})
						if err != nil {
							t.Error(err)
							return
						}
						if !slices.Equal(got[0], want[i]) || !slices.Equal(got[1], want[j]) {
							t.Errorf("wrong vectors for %q, %q", texts[i], texts[j])
							return
						}
						got[0][0] = 42 // the caller's own copy
					}
				})
			}
			wg.Wait()
			if hits, misses := obs.counts(); hits+misses != 2*workers*rounds {
				t.Errorf("observed %d hits + %d misses, want %d in all", hits, misses, 2*workers*rounds)
			}
		})
	}
}
