package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func hit(id, doc string, score float32) Hit {
	return Hit{ChunkID: id, DocumentID: doc, Score: score, Text: "text of " + id}
}

func ids(hits []Hit) []string {
	var all []string
	for _, h := range hits {
		all = append(all, h.ChunkID)
	}
	return all
}

func search(t *testing.T, chunks *recordingChunks, req Request) *Response {
	t.Helper()
	req.Tenant = "acme"
	response, err := newService(chunks, fakeRecords{}).Search(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return response
}

func TestRRFFusesByWeightedReciprocalRank(t *testing.T) {
	t.Parallel()
	dense := []Hit{hit("a", "1", 0.9), hit("b", "2", 0.8)}
	text := []Hit{hit("b", "2", 12), hit("c", "3", 7)}
	cases := []struct {
		name   string
		fusion *Fusion
		want   map[string]float64
		order  []string
	}{
		{name: "rrf's defaults: k 60, weights 1", fusion: &Fusion{Method: FusionRRF, Weights: &Weights{Text: floatp(1)}},
			want:  map[string]float64{"a": 1.0 / 61, "b": 1.0/62 + 1.0/61, "c": 1.0 / 62},
			order: []string{"b", "a", "c"}},
		{name: "k (which means rrf) and weights", fusion: &Fusion{K: floatp(1), Weights: &Weights{Dense: floatp(3), Text: floatp(1)}},
			want:  map[string]float64{"a": 3.0 / 2, "b": 3.0/3 + 1.0/2, "c": 1.0 / 3},
			order: []string{"a", "b", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			response := search(t, &recordingChunks{hits: dense, textHits: text}, Request{Query: "water", Fusion: tc.fusion})
			if got := ids(response.Hits); !slices.Equal(got, tc.order) {
				t.Fatalf("order %v, want %v", got, tc.order)
			}
			for _, h := range response.Hits {
				if math.Abs(float64(h.Score)-tc.want[h.ChunkID]) > 1e-6 {
					t.Errorf("%s scored %v, want %v", h.ChunkID, h.Score, tc.want[h.ChunkID])
				}
			}
			b := response.Hits[slices.Index(ids(response.Hits), "b")]
			if b.Scores == nil || b.Scores.Dense == nil || *b.Scores.Dense != 0.8 || b.Scores.Text == nil || *b.Scores.Text != 12 {
				t.Fatalf("b's scores per ranking: %+v", b.Scores)
			}
			if c := response.Hits[slices.Index(ids(response.Hits), "c")]; c.Scores.Dense != nil {
				t.Fatalf("c was not a dense candidate, yet has a dense score %v", *c.Scores.Dense)
			}
		})
	}
}

func TestTheDefaultFusionIsScoreFusionLeaningOnText(t *testing.T) {
	t.Parallel()
	dense := []Hit{hit("a", "1", 0.9), hit("b", "2", 0.1)}
	text := []Hit{hit("b", "2", 20), hit("a", "1", 10)}
	response := search(t, &recordingChunks{hits: dense, textHits: text}, Request{Query: "water"})
	// a: dense 1 + text 0; b: dense 0 + text 1.25
	if got := ids(response.Hits); !slices.Equal(got, []string{"b", "a"}) ||
		response.Hits[0].Score != 1.25 || response.Hits[1].Score != 1 {
		t.Fatalf("hits %v scored %v %v", got, response.Hits[0].Score, response.Hits[1].Score)
	}
}

func TestScoreFusionScalesEachRanking(t *testing.T) {
	t.Parallel()
	dense := []Hit{hit("a", "1", 0.9), hit("b", "2", 0.5), hit("c", "3", 0.1)}
	text := []Hit{hit("c", "3", 20), hit("b", "2", 10), hit("d", "4", 0)}
	response := search(t, &recordingChunks{hits: dense, textHits: text},
		Request{Query: "water", Fusion: &Fusion{Method: FusionScore, Weights: &Weights{Text: floatp(2)}}})
	// dense scaled: a 1, b 0.5, c 0; text scaled: c 1, b 0.5, d 0
	want := map[string]float64{"a": 1, "b": 0.5 + 2*0.5, "c": 2, "d": 0}
	if got := ids(response.Hits); !slices.Equal(got, []string{"c", "b", "a", "d"}) {
		t.Fatalf("order %v", got)
	}
	for _, h := range response.Hits {
		if math.Abs(float64(h.Score)-want[h.ChunkID]) > 1e-6 {
			t.Errorf("%s scored %v, want %v", h.ChunkID, h.Score, want[h.ChunkID])
		}
	}
}

func TestFusionRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mode   string
		fusion Fusion
		want   string
	}{
		{"unknown method", ModeHybrid, Fusion{Method: "borda"}, "fusion.method"},
		{"k with score fusion", ModeHybrid, Fusion{Method: FusionScore, K: floatp(60)}, "fusion.k"},
		{"negative k", ModeHybrid, Fusion{K: floatp(-1)}, "fusion.k"},
		{"infinite k", ModeHybrid, Fusion{K: floatp(math.Inf(1))}, "fusion.k"},
		{"NaN weight", ModeHybrid, Fusion{Weights: &Weights{Dense: floatp(math.NaN())}}, "fusion.weights.dense"},
		{"negative weight", ModeHybrid, Fusion{Weights: &Weights{Text: floatp(-2)}}, "fusion.weights.text"},
		{"both weights 0", ModeHybrid, Fusion{Weights: &Weights{Dense: floatp(0), Text: floatp(0)}}, "at least one"},
		{"fusion of a single mode", ModeDense, Fusion{}, "hybrid search only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := newService(&recordingChunks{}, fakeRecords{}).Search(context.Background(),
				Request{Query: "q", Mode: tc.mode, Tenant: "acme", Fusion: &tc.fusion})
			var bad *Error
			if !errors.As(err, &bad) || bad.Code != "invalid_fusion" || !strings.Contains(bad.Message, tc.want) {
				t.Fatalf("got %v, want invalid_fusion naming %q", err, tc.want)
			}
		})
	}
}

func TestGroupByDocumentKeepsEachDocumentsBestChunk(t *testing.T) {
	t.Parallel()
	var ranking []Hit // document d<i> has chunks c<i>-0 .. : d0 has 5, the others 1
	for i := range 5 {
		ranking = append(ranking, hit(fmt.Sprintf("c0-%d", i), "d0", float32(100-i)))
	}
	for i := 1; i < 30; i++ {
		ranking = append(ranking, hit(fmt.Sprintf("c%d-0", i), fmt.Sprintf("d%d", i), float32(90-i)))
	}
	for _, mode := range []string{ModeDense, ModeText, ModeHybrid} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var seen []string
			for offset := 0; offset < 40; offset += 4 {
				response := search(t, &recordingChunks{hits: ranking},
					Request{Query: "water", Mode: mode, K: intp(4), Offset: intp(offset), GroupBy: GroupByDocument})
				for _, h := range response.Hits {
					seen = append(seen, h.DocumentID)
					want := 0
					if h.DocumentID == "d0" {
						want = 4
					}
					if h.MoreChunks == nil || *h.MoreChunks != want {
						t.Fatalf("%s: more_chunks %v, want %d", h.DocumentID, h.MoreChunks, want)
					}
				}
			}
			want := []string{"d0"}
			for i := 1; i < 30; i++ {
				want = append(want, fmt.Sprintf("d%d", i))
			}
			if !slices.Equal(seen, want) {
				t.Fatalf("paging through the documents gave %v, want each once, in order", seen)
			}
		})
	}
}

func TestGroupByReadsDeeperForEnoughDocuments(t *testing.T) {
	t.Parallel()
	var ranking []Hit // 300 chunks of one document, then 20 documents of one chunk
	for i := range 300 {
		ranking = append(ranking, hit(fmt.Sprintf("big-%03d", i), "big", float32(1000-i)))
	}
	for i := range 20 {
		ranking = append(ranking, hit(fmt.Sprintf("small-%02d", i), fmt.Sprintf("small%02d", i), float32(10-i)/100))
	}
	chunks := &recordingChunks{hits: ranking}
	response := search(t, chunks, Request{Query: "water", Mode: ModeDense, K: intp(5), GroupBy: GroupByDocument})
	if len(response.Hits) != 5 || response.Hits[0].DocumentID != "big" || *response.Hits[0].MoreChunks != 299 ||
		response.Hits[4].DocumentID != "small03" {
		t.Fatalf("hits %v", ids(response.Hits))
	}
	if chunks.calls[ModeDense].Limit < 320 {
		t.Fatalf("read %d deep: not far enough to find 5 documents", chunks.calls[ModeDense].Limit)
	}
}

func TestMinScoreInEveryMode(t *testing.T) {
	t.Parallel()
	dense := []Hit{hit("a", "1", 0.9), hit("b", "2", 0.2)}
	text := []Hit{hit("a", "1", 14), hit("c", "3", 3)}
	cases := []struct {
		mode    string
		minimum float64
		want    []string
	}{
		{ModeDense, 0.5, []string{"a"}},
		{ModeText, 5, []string{"a"}},
		{ModeHybrid, 1.5, []string{"a"}}, // a: 1 + 1.25; b: 0 (dense's last), c: 0 (text's last)
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			for _, group := range []string{"", GroupByDocument} {
				response := search(t, &recordingChunks{hits: dense, textHits: text},
					Request{Query: "q", Mode: tc.mode, MinScore: &tc.minimum, GroupBy: group})
				if got := ids(response.Hits); !slices.Equal(got, tc.want) {
					t.Fatalf("group_by %q: %v, want %v", group, got, tc.want)
				}
			}
		})
	}
}

func TestGroupByIsChecked(t *testing.T) {
	t.Parallel()
	_, err := newService(&recordingChunks{}, fakeRecords{}).Search(context.Background(),
		Request{Query: "q", Tenant: "acme", GroupBy: "tenant"})
	var bad *Error
	if !errors.As(err, &bad) || bad.Code != "invalid_group_by" {
		t.Fatalf("got %v", err)
	}
}

// marked is the text's highlighted parts.
func marked(text string, spans []Span) []string {
	runes := []rune(text)
	var words []string
	for _, s := range spans {
		words = append(words, string(runes[s.Start:s.End]))
	}
	return words
}

func TestHighlightsMarkTheMatchedWords(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, query, text string
		want              []string
	}{
		{"stems match", "indexing mills", "The mill was indexed; Mills index grain.", []string{"mill", "indexed", "Mills", "index"}},
		{"stop words are not marked", "the water of the mill", "The water of the mill.", []string{"water", "mill"}},
		{"offsets count code points", "café naïve", "🦀 Ünïcode: the café was naïve, CAFÉ.", []string{"café", "naïve", "CAFÉ"}},
		{"no match, no highlight", "zebra", "Nothing here.", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := Hit{ChunkID: "a", DocumentID: "1", Text: tc.text, Score: 1}
			response := search(t, &recordingChunks{hits: []Hit{h}}, Request{Query: tc.query, Mode: ModeDense})
			got := response.Hits[0]
			if words := marked(got.Text, got.Highlights); !slices.Equal(words, tc.want) {
				t.Fatalf("highlighted %q, want %q", words, tc.want)
			}
			if got.Snippet == nil || got.Snippet.Text != tc.text || got.Snippet.Start != 0 ||
				!slices.Equal(marked(got.Snippet.Text, got.Snippet.Highlights), tc.want) {
				t.Fatalf("snippet %+v of a short text", got.Snippet)
			}
		})
	}
}

func TestSnippetIsTheBestPassage(t *testing.T) {
	t.Parallel()
	filler := strings.Repeat("lorem ipsum dolor sit amet ", 20) // 540 characters
	text := "Ärger " + filler + "a turbine spins; " + filler + "turbine blades and a rotor hub. " + filler
	h := Hit{ChunkID: "a", DocumentID: "1", Text: text, Score: 1}
	response := search(t, &recordingChunks{hits: []Hit{h}}, Request{Query: "turbine rotor", Mode: ModeText})
	s := response.Hits[0].Snippet
	runes := []rune(text)
	if s == nil || string(runes[s.Start:s.End]) != s.Text || len([]rune(s.Text)) > SnippetChars {
		t.Fatalf("snippet %+v is not a passage of at most %d characters of the text", s, SnippetChars)
	}
	if words := marked(s.Text, s.Highlights); !slices.Equal(words, []string{"turbine", "rotor"}) {
		t.Fatalf("the snippet marks %q: want the passage with both terms", words)
	}
	if strings.HasPrefix(s.Text, " ") || strings.HasSuffix(s.Text, " ") || !strings.Contains(filler, strings.Fields(s.Text)[0]+" ") {
		t.Fatalf("snippet %q is not cut at word boundaries", s.Text)
	}
	if all := marked(text, response.Hits[0].Highlights); !slices.Equal(all, []string{"turbine", "turbine", "rotor"}) {
		t.Fatalf("highlights in the text %q", all)
	}
}

func TestSnippetWithoutMatchesIsTheOpening(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("wind and water ", 40)
	response := search(t, &recordingChunks{hits: []Hit{{ChunkID: "a", Text: text}}}, Request{Query: "zebra", Mode: ModeDense})
	s := response.Hits[0].Snippet
	if s.Start != 0 || len([]rune(s.Text)) > SnippetChars || !strings.HasPrefix(text, s.Text) || !strings.HasSuffix(s.Text, "water") && !strings.HasSuffix(s.Text, "wind") && !strings.HasSuffix(s.Text, "and") {
		t.Fatalf("snippet %+v", s)
	}
}
