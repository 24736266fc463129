package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

const (
	tenantKey    = "sluice.tenant"
	modeKey      = "sluice.mode"
	requestIDKey = "sluice.request_id"
)

// requestID gives every request an id (the client's X-Request-Id if sane) and echoes it.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			buf := make([]byte, 8)
			_, _ = rand.Read(buf)
			id = hex.EncodeToString(buf)
		}
		c.Set(requestIDKey, id)
		c.Header("X-Request-Id", id)
		c.Next()
	}
}

// accessLog writes one JSON line per request (no query string: it holds user text).
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		started := time.Now()
		c.Next()
		attrs := []any{
			"method", c.Request.Method, "route", route(c), "status", c.Writer.Status(),
			"duration_ms", float64(time.Since(started).Microseconds()) / 1000,
			"request_id", c.GetString(requestIDKey), "tenant", c.GetString(tenantKey),
		}
		if mode := c.GetString(modeKey); mode != "" {
			attrs = append(attrs, "mode", mode)
		}
		if len(c.Errors) > 0 {
			log.Warn("request failed", append(attrs, "error", c.Errors.String())...)
			return
		}
		log.Info("request", attrs...)
	}
}

// recovery turns a panic into a logged 500 with the JSON error body.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if recovered := recover(); recovered != nil {
				if recovered == http.ErrAbortHandler {
					panic(recovered) // net/http's "abort this response" (the ingest proxy's): not a fault
				}
				log.Error("panic", "error", fmt.Sprint(recovered), "route", route(c))
				abort(c, newError(http.StatusInternalServerError, "internal_error", "internal error"))
			}
		}()
		c.Next()
	}
}

// instrument counts requests and times them by route, mode and status.
func instrument(m Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		started := time.Now()
		c.Next()
		m.ObserveRequest(route(c), c.GetString(modeKey), c.Writer.Status(), time.Since(started))
	}
}

func route(c *gin.Context) string {
	if path := c.FullPath(); path != "" {
		return path
	}
	return "unmatched"
}

// Keys maps API keys to tenants; with none, requests need no key.
type Keys struct {
	keys    [][]byte
	tenants []string
}

// NewKeys holds the configured keys.
func NewKeys(keys map[string]string) *Keys {
	k := &Keys{}
	for key, tenant := range keys {
		k.keys = append(k.keys, []byte(key))
		k.tenants = append(k.tenants, tenant)
	}
	return k
}

// Enabled says whether requests need a key.
func (k *Keys) Enabled() bool { return len(k.keys) > 0 }

// tenant returns the key's tenant, comparing with every key in constant time.
func (k *Keys) tenant(presented string) (string, bool) {
	found := ""
	for i, key := range k.keys {
		if subtle.ConstantTimeCompare(key, []byte(presented)) == 1 {
			found = k.tenants[i]
		}
	}
	return found, found != ""
}

// authenticate requires a valid bearer key when keys are configured, and records its tenant.
func authenticate(keys *Keys) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !keys.Enabled() {
			c.Next()
			return
		}
		scheme, presented, _ := strings.Cut(c.GetHeader("Authorization"), " ")
		if !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(presented) == "" {
			abort(c, newError(http.StatusUnauthorized, "unauthorized", "an API key is required: send 'Authorization: Bearer <key>'"))
			return
		}
		tenant, ok := keys.tenant(strings.TrimSpace(presented))
		if !ok {
			abort(c, newError(http.StatusUnauthorized, "unauthorized", "the API key is not valid"))
			return
		}
		c.Set(tenantKey, tenant)
		c.Next()
	}
}
