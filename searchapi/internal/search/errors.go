package search

import (
	"errors"
	"fmt"
)

// The errors of a search or a document lookup. The adapters wrap theirs in these
// (fmt.Errorf("%w: op: %w", ...)), so that the HTTP layer maps each to its status and code
// by errors.Is/As without knowing the adapters.

// Error is a bad request: its code and message go back to the client as a 400.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func invalid(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// UnavailableError is a dependency that could not be reached, failed or did not answer in
// time: retrying later may succeed. Compare with errors.Is against the Err…Unavailable
// values, or take the component with errors.As.
type UnavailableError struct {
	// Component names the dependency: "milvus", "redis" or "embedder".
	Component string
	text      string
}

func (e *UnavailableError) Error() string { return e.text }

var (
	// ErrMilvusUnavailable wraps failures to reach Milvus or to get its answer in time.
	ErrMilvusUnavailable = &UnavailableError{Component: "milvus", text: "milvus unavailable"}
	// ErrRedisUnavailable wraps failures to reach Redis (the document records).
	ErrRedisUnavailable = &UnavailableError{Component: "redis", text: "redis unavailable"}
	// ErrEmbedderUnavailable wraps every failure of the query embedder.
	ErrEmbedderUnavailable = &UnavailableError{Component: "embedder", text: "embedder failed"}

	// ErrRejected wraps errors Milvus answered with (a bad expression, a missing collection).
	ErrRejected = errors.New("milvus rejected the request")
	// ErrEmbedderMismatch means the collection holds vectors of another embedder than the
	// one that embedded the query: searching would return nonsense.
	ErrEmbedderMismatch = errors.New("embedder mismatch")
	// ErrAnalyzerMismatch means the collection's text was analysed otherwise than searchapi
	// analyses queries (another language, or an older Sluice): full-text search would miss.
	ErrAnalyzerMismatch = errors.New("analyzer mismatch")
	// ErrNotFound means the tenant has no document with that id.
	ErrNotFound = errors.New("document not found")
)
