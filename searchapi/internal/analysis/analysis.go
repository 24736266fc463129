// Package analysis turns text into the terms of full-text search (BM25):
// tokens, stop words and Snowball English stems. It is a port of
// shared/sluice/analysis.py, whose module docstring is the specification:
// the index function writes the terms of every chunk into Milvus's BM25 field
// and searchapi analyses queries the same way, so both must agree exactly
// (tests/shared/testdata/analysis_vectors.json holds the outputs both
// reproduce).
package analysis

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"sluice.dev/searchapi/internal/analysis/snowball"
	"sluice.dev/searchapi/internal/analysis/snowball/english"
	"sluice.dev/searchapi/internal/pyunicode"
)

// Version is bumped whenever any output changes (terms, stop words, stems,
// offsets); the Python module's VERSION is the same number.
const Version = 1

// Languages are the languages New knows.
var Languages = []string{"english", "none"}

// ErrUnknownLanguage is returned by New for a language not in Languages.
var ErrUnknownLanguage = errors.New("unknown text analysis language")

// Identity is what the BM25 field's terms depend on; the index function
// records it in the Milvus collection's properties.
type Identity struct {
	Language string `json:"language"`
	Version  int    `json:"version"`
}

// Matches reports whether text analysed as i and as other gives the same terms.
func (i Identity) Matches(other Identity) bool { return i == other }

// Token is a token of a text: its analysed term (the stem, in English), its
// offsets [Start, End) in Unicode code points into the original text, and
// whether it is a stop word (then Term is the lower-cased word, unstemmed).
type Token struct {
	Term  string `json:"term"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	Stop  bool   `json:"stop"`
}

// Analyzer analyses text in one language; it is immutable and safe for
// concurrent use.
type Analyzer struct {
	identity Identity
	english  bool
}

// New returns the analyser of language, one of Languages.
func New(language string) (*Analyzer, error) {
	switch language {
	case "english":
		return &Analyzer{identity: Identity{Language: language, Version: Version}, english: true}, nil
	case "none":
		return &Analyzer{identity: Identity{Language: language, Version: Version}}, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownLanguage, language, strings.Join(Languages, ", "))
}

// Identity says how the analyser's terms are made.
func (a *Analyzer) Identity() Identity { return a.identity }

// Terms returns the terms of text in order: its tokens' terms, stop words
// left out.
func (a *Analyzer) Terms(text string) []string {
	tokens := a.Tokens(text)
	terms := make([]string, 0, len(tokens))
	for _, t := range tokens {
		if !t.Stop {
			terms = append(terms, t.Term)
		}
	}
	return terms
}

// Analyze returns the terms of text joined by single spaces: what the BM25
// field holds, and what a BM25 query searches for.
func (a *Analyzer) Analyze(text string) string {
	return strings.Join(a.Terms(text), " ")
}

// Tokens returns every token of text in order, stop words included (marked).
// An invalid UTF-8 byte, which a Python str cannot hold, counts as one code
// point (as in []rune(text)) and separates tokens.
func (a *Analyzer) Tokens(text string) []Token {
	s := scanner{analyzer: a, text: text, prevEnd: -2}
	start, startByte, n := -1, 0, 0
	for i, r := range text {
		switch {
		case pyunicode.IsAlnum(r):
			if start < 0 {
				start, startByte = n, i
			}
		case start >= 0:
			s.add(startByte, i, start, n)
			start = -1
		}
		n++
	}
	if start >= 0 {
		s.add(startByte, len(text), start, n)
	}
	return s.tokens
}

// scanner collects the tokens of one text.
type scanner struct {
	analyzer *Analyzer
	text     string
	tokens   []Token
	buf      []byte
	prevWord string // the previous token's word
	prevEnd  int    // the previous token's end, in bytes
}

// add appends the token text[from:to], whose offsets in code points are
// [start, end).
func (s *scanner) add(from, to, start, end int) {
	word := s.word(s.text[from:to])
	if !s.analyzer.english {
		s.tokens = append(s.tokens, Token{Term: word, Start: start, End: end})
		return
	}
	token := Token{Term: word, Start: start, End: end, Stop: englishStopWords[word]}
	if s.contraction(from) {
		if englishStopWords[s.prevWord+"'"+word] {
			s.tokens[len(s.tokens)-1].Term, s.tokens[len(s.tokens)-1].Stop = s.prevWord, true
			token.Stop = true
		} else if clitics[word] {
			token.Stop = true
		}
	}
	if !token.Stop {
		token.Term = stem(word)
	}
	s.tokens = append(s.tokens, token)
	s.prevWord, s.prevEnd = word, to
}

// contraction reports whether one apostrophe alone separates the token
// starting at byte from and the previous one.
func (s *scanner) contraction(from int) bool {
	if s.prevEnd < 0 {
		return false
	}
	between := s.text[s.prevEnd:from]
	return between == "'" || between == "\u2019"
}

// word is the lower-cased token without the characters that are not
// alphanumeric (only U+0307, from İ, occurs).
func (s *scanner) word(token string) string {
	s.buf = pyunicode.AppendLower(s.buf[:0], token)
	clean := true
	for _, r := range string(s.buf) {
		if !pyunicode.IsAlnum(r) {
			clean = false
			break
		}
	}
	if clean {
		return string(s.buf)
	}
	kept := make([]byte, 0, len(s.buf))
	for _, r := range string(s.buf) {
		if pyunicode.IsAlnum(r) {
			kept = utf8.AppendRune(kept, r)
		}
	}
	return string(kept)
}

// envs recycles Snowball environments, one per stemming call in flight.
var envs = sync.Pool{New: func() any { return snowball.NewEnv("") }}

// stem returns the Snowball English stem of a lower-cased word.
func stem(word string) string {
	env, _ := envs.Get().(*snowball.Env)
	env.SetCurrent(word)
	english.Stem(env)
	stem := env.Current()
	envs.Put(env)
	return stem
}
