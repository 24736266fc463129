package analysis

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"sluice.dev/searchapi/internal/pyunicode"
)

// vectorsFile holds the Python analyser's outputs (written by
// tests/shared/test_analysis.py), which this port must reproduce exactly.
const vectorsFile = "../../../tests/shared/testdata/analysis_vectors.json"

type analysed struct {
	Terms    []string `json:"terms"`
	Analyzed string   `json:"analyzed"`
	Tokens   []Token  `json:"tokens"`
}

type vectors struct {
	Identities []Identity  `json:"identities"`
	StopWords  []string    `json:"stop_words"`
	Clitics    []string    `json:"clitics"`
	Stems      [][2]string `json:"stems"`
	Cases      []struct {
		Name    string   `json:"name"`
		Text    string   `json:"text"`
		English analysed `json:"english"`
		None    analysed `json:"none"`
	} `json:"cases"`
}

func loadVectors(t testing.TB) vectors {
	t.Helper()
	data, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) == 0 || len(v.Stems) < 200 {
		t.Fatalf("%s: %d cases, %d stems: too few", vectorsFile, len(v.Cases), len(v.Stems))
	}
	return v
}

func mustNew(t testing.TB, language string) *Analyzer {
	t.Helper()
	a, err := New(language)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestReproducesTheSharedVectors(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	for _, c := range v.Cases {
		for language, want := range map[string]analysed{"english": c.English, "none": c.None} {
			t.Run(c.Name+"/"+language, func(t *testing.T) {
				t.Parallel()
				a := mustNew(t, language)
				if got := a.Tokens(c.Text); !slices.Equal(got, want.Tokens) {
					t.Errorf("Tokens(%q)\n got %v\nwant %v", c.Text, got, want.Tokens)
				}
				if got := a.Terms(c.Text); !slices.Equal(got, want.Terms) {
					t.Errorf("Terms(%q)\n got %q\nwant %q", c.Text, got, want.Terms)
				}
				if got := a.Analyze(c.Text); got != want.Analyzed {
					t.Errorf("Analyze(%q)\n got %q\nwant %q", c.Text, got, want.Analyzed)
				}
			})
		}
	}
}

func TestStemsOfSingleWords(t *testing.T) {
	t.Parallel()
	english := mustNew(t, "english")
	for _, ws := range loadVectors(t).Stems {
		if got := english.Terms(ws[0]); !slices.Equal(got, []string{ws[1]}) {
			t.Errorf("Terms(%q) = %q, want [%q]", ws[0], got, ws[1])
		}
	}
}

func TestStopWordsAndIdentitiesAreThePythonOnes(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	keys := func(m map[string]bool) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	if got := keys(englishStopWords); !slices.Equal(got, v.StopWords) || len(got) != 174 {
		t.Errorf("stop words differ from the vector file's:\n got %q\nwant %q", got, v.StopWords)
	}
	if got := keys(clitics); !slices.Equal(got, v.Clitics) {
		t.Errorf("clitics %q, want %q", got, v.Clitics)
	}
	var identities []Identity
	for _, language := range Languages {
		identities = append(identities, mustNew(t, language).Identity())
	}
	if !reflect.DeepEqual(identities, v.Identities) {
		t.Errorf("identities %+v, want %+v", identities, v.Identities)
	}
}

func TestEnglishTerms(t *testing.T) {
	t.Parallel()
	english := mustNew(t, "english")
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"Running runs ran runner", []string{"run", "run", "ran", "runner"}},
		{"The indexing of indexed indexes", []string{"index", "index", "index"}},
		{"to be or not to be", []string{}},
		{"T cells and vitamin C", []string{"t", "cell", "vitamin", "c"}},
		{"Don't stop", []string{"stop"}},
		{"Parkinson\u2019s disease", []string{"parkinson", "diseas"}},
		{"could've ain't", []string{"ain"}},
		{"O'Brien rock 'n' roll", []string{"o", "brien", "rock", "n", "roll"}},
		{"İstanbul'da", []string{"istanbul", "da"}},
	} {
		t.Run(tc.text, func(t *testing.T) {
			t.Parallel()
			if got := english.Terms(tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("Terms(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

// The offsets index the original text in code points, even where lower-casing
// changes the length (İ becomes i + U+0307) or a character takes 4 bytes.
func TestOffsetsPointAtTheOriginalWords(t *testing.T) {
	t.Parallel()
	text := "İİ Straße, ΟΔΟΣ 🍕 东京 İstanbul'da 𐐀𐐁!"
	runes := []rune(text)
	var got []string
	for _, token := range mustNew(t, "english").Tokens(text) {
		got = append(got, string(runes[token.Start:token.End]))
	}
	want := []string{"İİ", "Straße", "ΟΔΟΣ", "东京", "İstanbul", "da", "𐐀𐐁"}
	if !slices.Equal(got, want) {
		t.Errorf("token texts %q, want %q", got, want)
	}
	for _, c := range loadVectors(t).Cases {
		runes := []rune(c.Text)
		for _, token := range mustNew(t, "none").Tokens(c.Text) {
			piece := string(runes[token.Start:token.End])
			if lowered := clean(string(pyunicode.AppendLower(nil, piece))); lowered != token.Term {
				t.Errorf("%s: [%d:%d] is %q, term %q", c.Name, token.Start, token.End, piece, token.Term)
			}
		}
	}
}

func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if pyunicode.IsAlnum(r) {
			return r
		}
		return -1
	}, s)
}

func TestInvalidUTF8SeparatesTokensAndCountsOneCodePointPerByte(t *testing.T) {
	t.Parallel()
	text := "ab\xffcd\xe2\x82 ef"
	tokens := mustNew(t, "none").Tokens(text)
	want := []Token{{Term: "ab", Start: 0, End: 2}, {Term: "cd", Start: 3, End: 5}, {Term: "ef", Start: 8, End: 10}}
	if !slices.Equal(tokens, want) {
		t.Errorf("Tokens(%q) = %v, want %v", text, tokens, want)
	}
	if runes := []rune(text); string(runes[8:10]) != "ef" {
		t.Errorf("[]rune disagrees: %q", string(runes[8:10]))
	}
}

func TestNewRefusesAnUnknownLanguage(t *testing.T) {
	t.Parallel()
	_, err := New("klingon")
	if !errors.Is(err, ErrUnknownLanguage) || !strings.Contains(err.Error(), `"klingon"`) {
		t.Errorf("New(klingon) error %v, want ErrUnknownLanguage naming it", err)
	}
	id := mustNew(t, "english").Identity()
	if !id.Matches(Identity{Language: "english", Version: Version}) || id.Matches(mustNew(t, "none").Identity()) {
		t.Errorf("Identity %+v matches wrongly", id)
	}
	data, _ := json.Marshal(id)
	if string(data) != `{"language":"english","version":1}` {
		t.Errorf("Identity JSON %s", data)
	}
}

func TestConcurrentUseGivesTheSameTerms(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	english := mustNew(t, "english")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				for _, c := range v.Cases {
					if got := english.Analyze(c.Text); got != c.English.Analyzed {
						t.Errorf("%s: concurrent Analyze %q, want %q", c.Name, got, c.English.Analyzed)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkTerms reports words/s of Terms on ~150-word chunks (the index
// function's chunks, a hit's text), made of the vector file's words and texts.
// Measured here (2 busy cores): english ~1.5M words/s, none ~4.5M; on
// SciFact's corpus english ~1.9M (Tokens ~2.4M), none ~5M. So a 150-word hit
// costs ~0.1 ms to highlight, and no stem cache is needed.
func BenchmarkTerms(b *testing.B) {
	v := loadVectors(b)
	var words []string
	for _, ws := range v.Stems {
		words = append(words, ws[0])
	}
	for _, c := range v.Cases {
		words = append(words, strings.Fields(c.Text)...)
	}
	var chunks []string
	for i := 0; i+150 <= len(words); i += 150 {
		chunks = append(chunks, strings.Join(words[i:i+150], " "))
	}
	for _, language := range Languages {
		b.Run(language, func(b *testing.B) {
			a := mustNew(b, language)
			n := 0
			for b.Loop() {
				for _, chunk := range chunks {
					a.Terms(chunk)
				}
				n += 150 * len(chunks)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "words/s")
		})
	}
}
