// Package embed turns query texts into vectors for the search service.
//
// An [Embedder] is either computed in process ([Hashing], the Go port of the
// Python feature-hashing embedder) or served over HTTP ([HTTP], any
// OpenAI-compatible embeddings endpoint), and may be wrapped in an LRU cache
// ([Cached]).
package embed

import (
	"context"
	"errors"
)

// Embedder turns texts into vectors of a fixed dimension.
//
// Embed returns exactly one vector of Info().Dim components per text, in the
// order of texts. Implementations are safe for concurrent use.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Info() Info
}

// Info identifies an embedder and the vectors it produces. Vectors are only
// comparable between embedders with equal Info.
type Info struct {
	// Name is the embedder's name, e.g. "hashing" or the model name.
	Name string `json:"name"`
	// Dim is the number of components of every vector.
	Dim int `json:"dim"`
	// Version distinguishes incompatible variants of the same name.
	Version string `json:"version"`
}

// ErrUnavailable is wrapped by transient failures (network errors, 5xx and
// 429 answers, timeouts): retrying later may succeed.
var ErrUnavailable = errors.New("embedder unavailable")

// ErrBadResponse is wrapped when the embedder's answer is malformed, has the
// wrong dimension or the wrong number of vectors, or rejects the request.
var ErrBadResponse = errors.New("embedder answered badly")
