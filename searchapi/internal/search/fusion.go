package search

import (
	"cmp"
	"math"
	"slices"
)

// Fusion methods: how hybrid search merges its dense and its full-text ranking.
const (
	// FusionRRF is weighted reciprocal rank fusion: a chunk scores Σ weight / (k + rank) over
	// the rankings it appears in (rank 1 is the best).
	FusionRRF = "rrf"
	// FusionScore is normalised-score fusion: each ranking's scores are scaled to 0..1 (min-max
	// over its candidates) and a chunk scores Σ weight × scaled score.
	FusionScore = "score"
)

// The defaults, chosen on SciFact's train split with bench/tune_fusion.py
// (docs/search-quality.md has the grid): score fusion with the text ranking weighted 1.25
// sits in the middle of a plateau (text weights 1.1 to 1.5: nDCG@10 0.7307 to 0.7314, RRF's
// best 0.7303 at k 5; the previous default, RRF k 60 with equal weights, 0.7143).
const (
	DefaultFusion      = FusionScore
	DefaultRRFK        = 60.0
	DefaultDenseWeight = 1.0
	DefaultTextWeight  = 1.25
	maxRRFK            = 10_000.0
	maxWeight          = 100.0
)

// Fusion is how a hybrid request fuses its rankings; unset fields take the defaults.
type Fusion struct {
	Method  string   `json:"method,omitempty"`
	K       *float64 `json:"k,omitempty"`
	Weights *Weights `json:"weights,omitempty"`
}

// Weights are each ranking's weight in a fusion (0 leaves a ranking out).
type Weights struct {
	Dense *float64 `json:"dense,omitempty"`
	Text  *float64 `json:"text,omitempty"`
}

// fusion is a validated Fusion.
type fusion struct {
	method      string
	k           float64
	dense, text float64
}

// resolve checks the request's fusion and fills in the defaults.
func (f *Fusion) resolve(mode string) (fusion, error) {
	resolved := fusion{method: DefaultFusion, k: DefaultRRFK, dense: DefaultDenseWeight, text: DefaultTextWeight}
	if f == nil {
		return resolved, nil
	}
	if mode != ModeHybrid {
		return fusion{}, invalid("invalid_fusion", "fusion applies to hybrid search only (mode is %s)", mode)
	}
	switch f.Method {
	case "":
		if f.K != nil { // the RRF constant names its method
			resolved.method = FusionRRF
		}
	case FusionRRF, FusionScore:
		resolved.method = f.Method
	default:
		return fusion{}, invalid("invalid_fusion", "fusion.method %q is not one of rrf, score", f.Method)
	}
	if f.K != nil {
		if resolved.method != FusionRRF {
			return fusion{}, invalid("invalid_fusion", "fusion.k is the RRF constant: it needs method rrf")
		}
		if !finite(*f.K) || *f.K < 0 || *f.K > maxRRFK {
			return fusion{}, invalid("invalid_fusion", "fusion.k must be between 0 and %g", maxRRFK)
		}
		resolved.k = *f.K
	}
	if w := f.Weights; w != nil {
		for name, weight := range map[string]*float64{"dense": w.Dense, "text": w.Text} {
			if weight != nil && (!finite(*weight) || *weight < 0 || *weight > maxWeight) {
				return fusion{}, invalid("invalid_fusion", "fusion.weights.%s must be between 0 and %g", name, maxWeight)
			}
		}
		if w.Dense != nil {
			resolved.dense = *w.Dense
		}
		if w.Text != nil {
			resolved.text = *w.Text
		}
		if resolved.dense == 0 && resolved.text == 0 {
			return fusion{}, invalid("invalid_fusion", "fusion.weights: at least one weight must be above 0")
		}
	}
	return resolved, nil
}

// fuse merges a dense and a text ranking (each best first) into one, best first; each hit
// keeps its score in each ranking in Scores.
func (f fusion) fuse(dense, text []Hit) []Hit {
	byID := make(map[string]int, len(dense)+len(text))
	var fused []Hit
	add := func(ranking []Hit, weight float64, mode string) {
		scaled := f.scaler(ranking)
		for rank, hit := range ranking {
			i, seen := byID[hit.ChunkID]
			if !seen {
				i = len(fused)
				byID[hit.ChunkID] = i
				hit.Scores = &ModeScores{}
				hit.Score = 0
				fused = append(fused, hit)
			}
			raw := ranking[rank].Score
			if mode == ModeDense {
				fused[i].Scores.Dense = &raw
			} else {
				fused[i].Scores.Text = &raw
			}
			fused[i].Score += float32(weight * scaled(rank))
		}
	}
	add(dense, f.dense, ModeDense)
	add(text, f.text, ModeText)
	sortHits(fused)
	return fused
}

// scaler is what a ranking contributes by rank, before its weight.
func (f fusion) scaler(ranking []Hit) func(rank int) float64 {
	if f.method == FusionRRF {
		return func(rank int) float64 { return 1 / (f.k + float64(rank) + 1) }
	}
	if len(ranking) == 0 {
		return nil
	}
	// rankings are sorted best first: the extremes are the ends
	top, bottom := float64(ranking[0].Score), float64(ranking[len(ranking)-1].Score)
	return func(rank int) float64 {
		if top == bottom {
			return 1
		}
		return (float64(ranking[rank].Score) - bottom) / (top - bottom)
	}
}

// sortHits orders hits best first; ties by chunk id, so that a ranking (and its pages) is the
// same on every call.
func sortHits(hits []Hit) {
	slices.SortStableFunc(hits, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ChunkID, b.ChunkID)
	})
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
