package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"sluice.dev/searchapi/internal/search"
)

// apiError is an error with its HTTP status and code, as sent to the client.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Message }

func newError(status int, code, message string) *apiError {
	return &apiError{Status: status, Code: code, Message: message}
}

// classify maps any error to the status and code the client sees: the one place where the
// search package's errors meet HTTP.
func classify(err error) *apiError {
	var api *apiError
	var bad *search.Error
	var unavailable *search.UnavailableError
	switch {
	case errors.As(err, &api):
		return api
	case errors.As(err, &bad):
		return newError(http.StatusBadRequest, bad.Code, bad.Message)
	case errors.Is(err, search.ErrNotFound):
		return newError(http.StatusNotFound, "not_found", err.Error())
	case errors.As(err, &unavailable): // milvus_unavailable, redis_unavailable, embedder_unavailable
		return newError(http.StatusServiceUnavailable, unavailable.Component+"_unavailable", err.Error())
	case errors.Is(err, search.ErrEmbedderMismatch):
		return newError(http.StatusInternalServerError, "embedder_mismatch", err.Error())
	case errors.Is(err, search.ErrAnalyzerMismatch):
		return newError(http.StatusInternalServerError, "analyzer_mismatch", err.Error())
	case errors.Is(err, search.ErrRejected):
		return newError(http.StatusInternalServerError, "milvus_error", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return newError(http.StatusServiceUnavailable, "timeout", "the request took too long: "+err.Error())
	default:
		return newError(http.StatusInternalServerError, "internal_error", "internal error")
	}
}

// abort ends the request with the JSON error for err.
func abort(c *gin.Context, err error) {
	api := classify(err)
	if api.Status >= 500 {
		_ = c.Error(err) // logged by the access log middleware
	}
	c.AbortWithStatusJSON(api.Status, gin.H{"error": gin.H{"code": api.Code, "message": api.Message}})
}

// writeError writes the JSON error outside Gin (the ingest proxy's failures).
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(gin.H{"error": gin.H{"code": code, "message": message}})
}
