package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// ingestTimeout bounds the wait for the ingest function's answer to a forwarded request (a
// function scaled to zero starts first).
const ingestTimeout = 60 * time.Second

// forwardedPath is the ingest routes the console uses: documents (list, submit), one
// document (status, delete) and the dead letters. Nothing else of ingest (its /metrics, its
// CloudEvent root) is reachable through searchapi.
var forwardedPath = regexp.MustCompile(`^/(documents(/[^/]+)?|dead-letters(/replay)?)$`)

// IngestProxy forwards /v1/ingest/<route> to the ingest function: the client's key, body and
// trace headers go along; bodies above the ingest function's limit are refused here (413).
type IngestProxy struct {
	proxy   *httputil.ReverseProxy
	maxBody int64
}

// NewIngestProxy forwards to the ingest function at target, bodies of at most maxBody bytes.
func NewIngestProxy(target string, maxBody int64, log *slog.Logger) (*IngestProxy, error) {
	base, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("searchapi.ingest_url: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = ingestTimeout
	transport.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	p := &IngestProxy{maxBody: maxBody}
	p.proxy = &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(r *httputil.ProxyRequest) {
			route := r.In.Context().Value(forwardedRouteKey{}).(string)
			r.Out.URL.Scheme, r.Out.URL.Host = base.Scheme, base.Host
			// route is checked (forwardedPath: no dot segments), so joining is concatenation.
			escaped := strings.TrimSuffix(base.EscapedPath(), "/") + route
			r.Out.URL.RawPath = escaped
			r.Out.URL.Path, _ = url.PathUnescape(escaped)
			r.Out.URL.RawQuery = r.In.URL.RawQuery
			r.Out.Host = base.Host
			r.Out.Header.Del("Cookie")
			r.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var tooLarge *http.MaxBytesError
			status, code, message := http.StatusBadGateway, "ingest_unavailable", "the ingest function did not answer: "+err.Error()
			switch {
			case errors.As(err, &tooLarge):
				status, code, message = http.StatusRequestEntityTooLarge, "payload_too_large",
					fmt.Sprintf("the body is larger than %d bytes (ingest.max_body_bytes)", maxBody)
			case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout"):
				status, code, message = http.StatusGatewayTimeout, "ingest_timeout",
					fmt.Sprintf("the ingest function did not answer within %s", ingestTimeout)
			case errors.Is(err, context.Canceled):
				return // the client went away
			}
			log.Warn("forwarding to ingest failed", "error", err.Error(), "status", status)
			writeError(w, status, code, message)
		},
	}
	return p, nil
}

type forwardedRouteKey struct{}

func (p *IngestProxy) forward(c *gin.Context) {
	route := strings.TrimPrefix(c.Request.URL.EscapedPath(), "/v1/ingest")
	decoded := c.Param("path")
	if !forwardedPath.MatchString(decoded) || strings.HasSuffix(decoded, "/.") || strings.HasSuffix(decoded, "/..") {
		abort(c, newError(http.StatusNotFound, "not_found", "no ingest route for "+c.Request.URL.Path))
		return
	}
	if c.Request.ContentLength > p.maxBody {
		abort(c, newError(http.StatusRequestEntityTooLarge, "payload_too_large",
			fmt.Sprintf("the body is %d bytes; the limit is %d (ingest.max_body_bytes)", c.Request.ContentLength, p.maxBody)))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, p.maxBody)
	c.Request.Header.Set("X-Request-Id", c.GetString(requestIDKey))
	ctx := context.WithValue(c.Request.Context(), forwardedRouteKey{}, route)
	p.proxy.ServeHTTP(c.Writer, c.Request.WithContext(ctx))
}
