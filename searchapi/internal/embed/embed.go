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
// Embed returns exactly one vector of Identity().Dim components per text, in
// the order of texts. Implementations are safe for concurrent use.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Identity() Identity
}

// Identity says which embedder made a vector. Vectors are comparable only
// between embedders whose identities match. Its JSON is the one the Python
// index function records in the collection property sluice.embedder.
type Identity struct {
	// Name is the embedder's name, e.g. "hashing" or the model name.
	Name string `json:"name"`
	// Dim is the number of components of every vector.
	Dim int `json:"dim"`
	// Version distinguishes builds of the same name that make different
	// vectors; empty means unknown.
	Version string `json:"version"`
}

// Matches says whether vectors of the two identities are comparable: same
// name and dimension, and same version unless either is unknown (empty).
func (i Identity) Matches(other Identity) bool {
	return i.Name == other.Name && i.Dim == other.Dim &&
		(i.Version == "" || other.Version == "" || i.Version == other.Version)
}

// ErrUnavailable is wrapped by transient failures (network errors, 5xx and
// 429 answers, timeouts): retrying later may succeed.
var ErrUnavailable = errors.New("embedder unavailable")

// ErrBadResponse is wrapped when the embedder's answer is malformed, has the
// wrong dimension or the wrong number of vectors, names another embedder
// than the configured one, or rejects the request.
var ErrBadResponse = errors.New("embedder answered badly")
