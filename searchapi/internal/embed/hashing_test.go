package embed

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// vectorsFile holds the reference vectors written by the Python embedder
// (tests/shared/testdata/make_hashing_vectors.py).
const vectorsFile = "../../../tests/shared/testdata/hashing_vectors.json"

type vectorCase struct {
	Name   string   `json:"name"`
	Text   string   `json:"text"`
	Dim    int      `json:"dim"`
	Tokens []string `json:"tokens"`
	Vector string   `json:"vector_f32be_hex"`
}

func loadVectorCases(t *testing.T) []vectorCase {
	t.Helper()
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("reading the shared test vectors: %v", err)
	}
	var doc struct {
		Embedder Identity     `json:"embedder"`
		Cases    []vectorCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("decoding %s: %v", vectorsFile, err)
	}
	if doc.Embedder.Name != "hashing" || doc.Embedder.Version != "1" {
		t.Fatalf("the vectors are for embedder %+v, want hashing version 1", doc.Embedder)
	}
	if len(doc.Cases) == 0 {
		t.Fatal("no test vectors")
	}
	return doc.Cases
}

// decodeVector decodes concatenated big-endian float32 bit patterns.
func decodeVector(t *testing.T, encoded string) []uint32 {
	t.Helper()
	raw, err := hex.DecodeString(encoded)
	if err != nil || len(raw)%4 != 0 {
		t.Fatalf("bad vector encoding (%d hex digits): %v", len(encoded), err)
	}
	bits := make([]uint32, len(raw)/4)
	for i := range bits {
		bits[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	return bits
}

func TestHashingMatchesSharedVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range loadVectorCases(t) {
		t.Run(fmt.Sprintf("%s/%d", tc.Name, tc.Dim), func(t *testing.T) {
			t.Parallel()
			if got := tokenize(tc.Text); !slices.Equal(got, tc.Tokens) {
				t.Errorf("tokens of %q:\n got %q\nwant %q", tc.Text, got, tc.Tokens)
			}
			want := decodeVector(t, tc.Vector)
			if len(want) != tc.Dim {
				t.Fatalf("reference vector has %d components, dim is %d", len(want), tc.Dim)
			}
			vectors, err := NewHashing(tc.Dim).Embed(t.Context(), []string{tc.Text})
			if err != nil {
				t.Fatal(err)
			}
			got := vectors[0]
			if len(got) != tc.Dim {
				t.Fatalf("got %d components, want %d", len(got), tc.Dim)
			}
			mismatches := 0
			for i, v := range got {
				if b := math.Float32bits(v); b != want[i] {
					mismatches++
					if mismatches <= 5 {
						t.Errorf("component %d: got %08x (%g), want %08x (%g)",
							i, b, v, want[i], math.Float32frombits(want[i]))
					}
				}
			}
			if mismatches > 5 {
				t.Errorf("... %d mismatching components in all", mismatches)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	t.Parallel()
	// Expected tokens are those of the Python tokenize (CPython str.isalnum
	// and str.lower), including the cases of tests/shared/test_hashing_embedder.py.
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"punctuation", "Hello, World!", []string{"hello", "world"}},
		{"mixed case", "MiXeD CaSe", []string{"mixed", "case"}},
		{"apostrophe hyphen underscore", "don't stop-me_now", []string{"don", "t", "stop", "me", "now"}},
		{"digits", "abc123 4.5 2024-01-02", []string{"abc123", "4", "5", "2024", "01", "02"}},
		{"precomposed accents", "Café Müller", []string{"café", "müller"}},
		{"accented capitals", "ÀÉÎÕÜ", []string{"àéîõü"}},
		{"combining accent splits", "Cafe\u0301", []string{"cafe"}},
		{"cjk", "東京は日本の首都です。北京", []string{"東京は日本の首都です", "北京"}},
		{"cyrillic", "Привет, мир", []string{"привет", "мир"}},
		{"emoji", "I ❤ NY 🍕!", []string{"i", "ny"}},
		{"superscript and fraction", "x² ½", []string{"x²", "½"}},
		{"numerics", "Ⅻ ٣٤ ໐ 〇 ₂ ⑩ ㊀ 🄂", []string{"ⅻ", "٣٤", "໐", "〇", "₂", "⑩", "㊀", "🄂"}},
		{"modifier letter is alphanumeric", "\u3005\u3005", []string{"\u3005\u3005"}},
		{"format characters split", "ab\u00adcd x\u200dy", []string{"ab", "cd", "x", "y"}},
		{"dotted capital i", "A\u0130", []string{"ai\u0307"}},
		{"kelvin and angstrom signs", "\u212a\u212b", []string{"k\u00e5"}},
		{"capital sharp s", "\u1e9e", []string{"\u00df"}},
		{"titlecase digraph", "ǅemal", []string{"ǆemal"}},
		{"final sigma", "ΣΑΣ", []string{"σας"}},
		{"lone sigma is not final", "Σ", []string{"σ"}},
		{"sigma pairs", "ΣΣ ΣΣΣ", []string{"σς", "σσς"}},
		{"sigma before a digit is final", "ΑΣ1", []string{"ας1"}},
		{"sigma after a digit is not final", "Α1Σ", []string{"α1σ"}},
		{"modifier letter before sigma is skipped", "ΑʹΣ", []string{"αʹς"}},
		{"modifier letter then cased after sigma", "ΑΣʹΑ", []string{"ασʹα"}},
		{"other lowercase is cased", "ªΣ", []string{"ªς"}},
		{"sigma context stops at the token", "ΑΣ\u0301Α", []string{"ας", "α"}},
		{"dotted i then final sigma", "A\u0130\u03a3", []string{"ai\u0307ς"}},
		{"whitespace kinds", "tab\tnew\nline\u00a0nbsp\u3000ideo", []string{"tab", "new", "line", "nbsp", "ideo"}},
		{"invalid utf-8 separates", "ab\xffcd", []string{"ab", "cd"}},
		{"empty", "", []string{}},
		{"no alphanumerics", " \t\n ... !!! ", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tokenize(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("tokenize(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestHashingUnitNorm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		dim  int
	}{
		{"word", 8},
		{"two words", 384},
		{strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20), 8},
		{strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20), 384},
		{"Café 東京 42", 1000},
		{"a", 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.20s/%d", tt.text, tt.dim), func(t *testing.T) {
			t.Parallel()
			vectors, err := NewHashing(tt.dim).Embed(t.Context(), []string{tt.text})
			if err != nil {
				t.Fatal(err)
			}
			var sum float64
			for _, v := range vectors[0] {
				sum += float64(v) * float64(v)
			}
			if norm := math.Sqrt(sum); math.Abs(norm-1) > 1e-6 {
				t.Errorf("norm = %v, want 1", norm)
			}
		})
	}
}

func TestHashingZeroVector(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "   ", "!!! ??? ...", "🙂 ❤️ 🍕", "— … —"} {
		t.Run(text, func(t *testing.T) {
			t.Parallel()
			vectors, err := NewHashing(64).Embed(t.Context(), []string{text})
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range vectors[0] {
				if math.Float32bits(v) != 0 {
					t.Fatalf("component %d = %v, want +0", i, v)
				}
			}
		})
	}
}

func TestHashingSingleToken(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("hello"))
	h := binary.BigEndian.Uint64(sum[:8])
	want := make([]float32, 384)
	want[h%384] = 1
	if h>>63 != 0 {
		want[h%384] = -1
	}
	vectors, err := NewHashing(384).Embed(t.Context(), []string{"HELLO!"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(vectors[0], want) {
		t.Errorf("got %v, want %v", vectors[0], want)
	}
}

func TestHashingDeterministic(t *testing.T) {
	t.Parallel()
	texts := []string{"alpha beta", "gamma delta epsilon", "", "Café Müller", "ΟΔΥΣΣΕΥΣ"}
	first, err := NewHashing(384).Embed(t.Context(), texts)
	if err != nil {
		t.Fatal(err)
	}
	again := NewHashing(384)
	// Concurrent calls on one instance, batches and single texts all agree.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			batch, err := again.Embed(context.Background(), texts)
			if err != nil {
				t.Error(err)
				return
			}
			for i, text := range texts {
				single, err := again.Embed(context.Background(), []string{text})
				if err != nil {
					t.Error(err)
					return
				}
				if !slices.Equal(batch[i], first[i]) || !slices.Equal(single[0], first[i]) {
					t.Errorf("vector of %q changed between calls", text)
				}
			}
		})
	}
	wg.Wait()
}

func TestHashingCaseAndPunctuationInsensitive(t *testing.T) {
	t.Parallel()
	vectors, err := NewHashing(384).Embed(t.Context(), []string{"Hello, World!", "hello world", "world hello"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(vectors[0], vectors[1]) {
		t.Error("case and punctuation changed the vector")
	}
	if slices.Equal(vectors[1], vectors[2]) {
		t.Error("word order did not change the vector (bigrams)")
	}
}

func TestHashingIdentity(t *testing.T) {
	t.Parallel()
	want := Identity{Name: "hashing", Dim: 32, Version: "1"}
	if got := NewHashing(32).Identity(); got != want {
		t.Errorf("Identity() = %+v, want %+v", got, want)
	}
}

func TestNewHashingRejectsBadDim(t *testing.T) {
	t.Parallel()
	for _, dim := range []int{0, -1} {
		t.Run(strconv.Itoa(dim), func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Errorf("NewHashing(%d) did not panic", dim)
				}
			}()
			NewHashing(dim)
		})
	}
}

func TestHashingCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := NewHashing(8).Embed(ctx, []string{"a"}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func BenchmarkHashing(b *testing.B) {
	h := NewHashing(384)
	texts := []string{"how do I reset a forgotten password for the Sluice admin console?"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Embed(context.Background(), texts); err != nil {
			b.Fatal(err)
		}
	}
}
