package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// Admission bounds how many requests work at once (each holds Milvus and the embedder) and how
// long a request waits for its turn. Beyond that the service is overloaded: it answers 503
// `overloaded` with Retry-After at once, rather than letting every request queue behind a
// saturated Milvus until the request timeout, so that the requests it admits keep their latency.
type Admission struct {
	slots chan struct{}
	wait  time.Duration
}

// NewAdmission lets `limit` requests work at once; another waits at most `wait` for a slot.
func NewAdmission(limit int, wait time.Duration) *Admission {
	return &Admission{slots: make(chan struct{}, limit), wait: wait}
}

// admit holds a slot for the rest of the request, or refuses it as overloaded.
func admit(a *Admission) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a == nil {
			c.Next()
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), a.wait)
		defer cancel()
		select {
		case a.slots <- struct{}{}:
		case <-ctx.Done():
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(max(a.wait.Seconds(), 1)))))
			abort(c, newError(http.StatusServiceUnavailable, "overloaded", fmt.Sprintf(
				"%d requests are already being answered and this one waited %s for its turn; retry after the Retry-After seconds",
				cap(a.slots), a.wait)))
			return
		}
		defer func() { <-a.slots }()
		c.Next()
	}
}
