package embed

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"

	"sluice.dev/searchapi/internal/pyunicode"
)

// Hashing is the deterministic feature-hashing embedder: signed counts of
// SHA-256-hashed unigrams and bigrams, L2-normalised. It is a bit-for-bit port
// of shared/sluice/embedders/hashing.py, whose module docstring is the
// specification, and is safe for concurrent use.
type Hashing struct {
	dim int
}

var _ Embedder = (*Hashing)(nil)

// NewHashing returns a hashing embedder with dim buckets. It panics if dim is
// not positive.
func NewHashing(dim int) *Hashing {
	if dim <= 0 {
		panic(fmt.Sprintf("embed: hashing dimension must be positive, got %d", dim))
	}
	return &Hashing{dim: dim}
}

// Identity returns Identity{Name: "hashing", Dim: dim, Version: "1"} ("1" is
// the algorithm's version, HASHING_VERSION on the Python side).
func (h *Hashing) Identity() Identity {
	return Identity{Name: "hashing", Dim: h.dim, Version: "1"}
}

// Embed returns one unit vector per text, or the zero vector for a text
// without tokens. It fails only when ctx is done.
func (h *Hashing) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var s scratch
	for i, text := range texts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i] = s.embed(text, h.dim)
	}
	return out, nil
}

// scratch holds the buffers reused across the texts of one Embed call.
type scratch struct {
	tokens tokens
	counts []int64
}

// embed computes the vector of one text (steps 2 to 4 of the specification).
func (s *scratch) embed(text string, dim int) []float32 {
	s.tokens.reset(len(text))
	s.tokens.split(text)
	if cap(s.counts) < dim {
		s.counts = make([]int64, dim)
	}
	counts := s.counts[:dim]
	clear(counts)

	n := s.tokens.len()
	for i := range n {
		countFeature(counts, s.tokens.unigram(i))
	}
	for i := range n - 1 {
		countFeature(counts, s.tokens.bigram(i))
	}

	vector := make([]float32, dim)
	var sumSquares int64
	for _, c := range counts {
		sumSquares += c * c
	}
	if sumSquares == 0 {
		return vector
	}
	norm := math.Sqrt(float64(sumSquares))
	for i, c := range counts {
		vector[i] = float32(float64(c) / norm)
	}
	return vector
}

// countFeature adds the feature's sign to its bucket (step 3 of the
// specification).
func countFeature(counts []int64, feature []byte) {
	sum := sha256.Sum256(feature)
	h := binary.BigEndian.Uint64(sum[:8])
	bucket := h % uint64(len(counts))
	if h>>63 != 0 {
		counts[bucket]--
	} else {
		counts[bucket]++
	}
}

// tokens holds the lower-cased tokens of a text, joined by single spaces, so
// that both a token and the bigram of two adjacent tokens are sub-slices.
type tokens struct {
	buf  []byte // the tokens, each followed by one space except the last
	ends []int  // ends[i] is the end of token i in buf
}

// reset empties t and makes room for the tokens of a text of n bytes.
func (t *tokens) reset(n int) {
	if cap(t.buf) < n+n/4 {
		t.buf = make([]byte, 0, n+n/4)
	}
	if cap(t.ends) < n/4+1 {
		t.ends = make([]int, 0, n/4+1)
	}
	t.buf = t.buf[:0]
	t.ends = t.ends[:0]
}

func (t *tokens) len() int { return len(t.ends) }

func (t *tokens) start(i int) int {
	if i == 0 {
		return 0
	}
	return t.ends[i-1] + 1
}

// unigram returns token i.
func (t *tokens) unigram(i int) []byte { return t.buf[t.start(i):t.ends[i]] }

// bigram returns tokens i and i+1 joined by a space.
func (t *tokens) bigram(i int) []byte { return t.buf[t.start(i):t.ends[i+1]] }

// strings returns the tokens as strings.
func (t *tokens) strings() []string {
	out := make([]string, t.len())
	for i := range out {
		out[i] = string(t.unigram(i))
	}
	return out
}

// split appends the tokens of text: its maximal runs of alphanumeric
// characters, lower-cased (step 1 of the specification). Invalid UTF-8 bytes,
// which a Python str cannot hold, separate tokens.
func (t *tokens) split(text string) {
	start := -1
	for i, r := range text {
		switch {
		case pyunicode.IsAlnum(r):
			if start < 0 {
				start = i
			}
		case start >= 0:
			t.add(text[start:i])
			start = -1
		}
	}
	if start >= 0 {
		t.add(text[start:])
	}
}

func (t *tokens) add(token string) {
	if len(t.ends) > 0 {
		t.buf = append(t.buf, ' ')
	}
	t.buf = pyunicode.AppendLower(t.buf, token)
	t.ends = append(t.ends, len(t.buf))
}

// tokenize returns the tokens of text, as the Python tokenize function does.
func tokenize(text string) []string {
	var t tokens
	t.split(text)
	return t.strings()
}
