package search

import "sluice.dev/searchapi/internal/analysis"

// SnippetChars is about how long a snippet is, in characters (code points).
const SnippetChars = 200

// Span is a part of a text, as offsets in Unicode code points: [Start, End).
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Snippet is the passage of a hit's text that best shows why it matched: Start and End are
// its offsets in the text, its Highlights are relative to its own Text.
type Snippet struct {
	Text       string `json:"text"`
	Start      int    `json:"start"`
	End        int    `json:"end"`
	Highlights []Span `json:"highlights"`
}

// highlighter marks the words of a text that match a query: those whose analysed term (the
// stem, for English) is one of the query's terms, so "indexing" matches the query "indexed".
type highlighter struct {
	analyzer *analysis.Analyzer
	terms    map[string]bool
}

func newHighlighter(analyzer *analysis.Analyzer, query string) highlighter {
	terms := map[string]bool{}
	for _, term := range analyzer.Terms(query) {
		terms[term] = true
	}
	return highlighter{analyzer: analyzer, terms: terms}
}

// mark sets the hit's highlights and snippet.
func (h highlighter) mark(hit *Hit) {
	var matches []analysis.Token
	tokens := h.analyzer.Tokens(hit.Text)
	hit.Highlights = []Span{}
	for _, token := range tokens {
		if !token.Stop && h.terms[token.Term] {
			matches = append(matches, token)
			hit.Highlights = append(hit.Highlights, Span{Start: token.Start, End: token.End})
		}
	}
	hit.Snippet = snippet([]rune(hit.Text), tokens, matches)
}

// snippet is the window of about SnippetChars characters with the most distinct matched
// terms (then the most matches), the first such, widened evenly around its matches and cut at
// word boundaries; without matches (a dense hit sharing no word with the query), the opening
// of the text.
func snippet(text []rune, tokens, matches []analysis.Token) *Snippet {
	start, end := 0, len(text)
	if len(text) > SnippetChars {
		if len(matches) == 0 {
			end = cutEnd(tokens, SnippetChars, 0)
		} else {
			first, last := bestWindow(matches)
			slack := SnippetChars - (matches[last].End - matches[first].Start)
			start = max(0, matches[first].Start-slack/2)
			end = min(len(text), start+SnippetChars)
			start = max(0, end-SnippetChars)
			start = cutStart(tokens, start, matches[first].Start)
			end = cutEnd(tokens, end, matches[last].End)
		}
	}
	s := &Snippet{Text: string(text[start:end]), Start: start, End: end, Highlights: []Span{}}
	for _, m := range matches {
		if m.Start >= start && m.End <= end {
			s.Highlights = append(s.Highlights, Span{Start: m.Start - start, End: m.End - start})
		}
	}
	return s
}

// bestWindow is the first and last match of the best window.
func bestWindow(matches []analysis.Token) (int, int) {
	bestFirst, bestLast, bestDistinct, bestCount := 0, 0, 0, 0
	for first := range matches {
		distinct := map[string]bool{}
		last := first
		for j := first; j < len(matches) && matches[j].End-matches[first].Start <= SnippetChars; j++ {
			distinct[matches[j].Term] = true
			last = j
		}
		count := last - first + 1
		if len(distinct) > bestDistinct || len(distinct) == bestDistinct && count > bestCount {
			bestFirst, bestLast, bestDistinct, bestCount = first, last, len(distinct), count
		}
	}
	return bestFirst, bestLast
}

// cutStart moves a snippet's start forward to the start of the first word that begins at or
// after it (a word straddling start is left out), never past limit (the first match's start).
func cutStart(tokens []analysis.Token, start, limit int) int {
	for _, token := range tokens {
		if token.Start >= start {
			return min(token.Start, limit)
		}
	}
	return start
}

// cutEnd moves a snippet's end back to the end of the last word that fits (not before limit).
func cutEnd(tokens []analysis.Token, end, limit int) int {
	cut := 0
	for _, token := range tokens {
		if token.End > end {
			break
		}
		cut = token.End
	}
	if cut < limit || cut == 0 {
		return max(end, limit)
	}
	return cut
}
