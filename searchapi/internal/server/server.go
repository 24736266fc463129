// Package server is the search service's HTTP layer: the Gin router, its middleware and the
// handlers, which validate input, call the search logic and map errors to one JSON shape.
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"sluice.dev/searchapi/internal/ops"
	"sluice.dev/searchapi/internal/search"
)

const (
	defaultTenant = "default"
	maxBodyBytes  = 1 << 20
)

// Service is the search logic behind the /v1 routes.
type Service interface {
	Search(ctx context.Context, req search.Request) (*search.Response, error)
	Document(ctx context.Context, tenant, id string) (*search.Document, error)
	DocumentChunks(ctx context.Context, tenant, id string, limit, offset int) (*search.ChunkPage, error)
}

// Operations is the pipeline's state for the console's operations page.
type Operations interface {
	Overview(ctx context.Context) ops.Overview
}

// Check is one readiness check (nil error: ready), named after what it checks.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Metrics records what the server handles and serves the metrics.
type Metrics interface {
	ObserveRequest(route, mode string, status int, took time.Duration)
	ObserveColdStart(took time.Duration)
	Handler() http.Handler
}

// Deps are what the handlers need.
type Deps struct {
	Service Service
	// Ready are run in this order; /readyz fails with the first that fails.
	Ready   []Check
	Keys    *Keys
	Metrics Metrics
	Log     *slog.Logger
	Timeout time.Duration
	// Admission bounds the /v1 requests at work at once (nil: unbounded).
	Admission *Admission
	Started   time.Time // when the process started: the first ready check records the cold start
	// Console serves the web console at / (NewConsole(nil): a page saying it is not built).
	Console *Console
	// Ingest forwards /v1/ingest/ to the ingest function (nil: not forwarded).
	Ingest *IngestProxy
	// Operations answers /v1/ops (nil: not served).
	Operations Operations
}

type handlers struct {
	Deps
	firstReady sync.Once
}

// New builds the router.
func New(deps Deps) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	router := gin.New()
	router.HandleMethodNotAllowed = true
	router.Use(requestID(), accessLog(deps.Log), recovery(deps.Log), instrument(deps.Metrics))
	h := &handlers{Deps: deps}
	router.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	router.GET("/readyz", h.ready)
	router.GET("/metrics", gin.WrapH(deps.Metrics.Handler()))
	v1 := router.Group("/v1", authenticate(deps.Keys), admit(deps.Admission))
	v1.GET("/search", h.searchGet)
	v1.POST("/search", h.searchPost)
	v1.GET("/documents/:id", h.document)
	v1.GET("/documents/:id/chunks", h.documentChunks)
	if deps.Operations != nil {
		v1.GET("/ops", h.operations)
	}
	if deps.Ingest != nil {
		// Not admitted with the searches: an upload may take long, and ingest sheds its own load.
		router.Group("/v1/ingest", authenticate(deps.Keys)).Any("/*path", deps.Ingest.forward)
	}
	router.NoRoute(func(c *gin.Context) {
		method := c.Request.Method
		if deps.Console != nil && (method == http.MethodGet || method == http.MethodHead) && !apiPath(c.Request.URL.Path) {
			deps.Console.serve(c)
			return
		}
		abort(c, newError(http.StatusNotFound, "not_found", "no route for "+c.Request.URL.Path))
	})
	router.NoMethod(func(c *gin.Context) {
		abort(c, newError(http.StatusMethodNotAllowed, "method_not_allowed",
			c.Request.Method+" is not allowed on "+c.Request.URL.Path))
	})
	return router
}

func (h *handlers) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	for _, check := range h.Ready {
		if err := check.Run(ctx); err != nil {
			code := classify(err).Code
			if code == "internal_error" {
				code = check.Name + "_unavailable"
			}
			abort(c, newError(http.StatusServiceUnavailable, code, err.Error()))
			return
		}
	}
	h.firstReady.Do(func() { h.Metrics.ObserveColdStart(time.Since(h.Started)) })
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

func (h *handlers) searchGet(c *gin.Context) {
	tenant, named := c.GetQuery("tenant")
	req := search.Request{Query: c.Query("q"), Mode: c.Query("mode"), Tenant: tenant, GroupBy: c.Query("group_by")}
	var err error
	if req.MinScore, err = floatParam(c, "min_score", "invalid_min_score"); err != nil {
		abort(c, err)
		return
	}
	if req.K, err = intParam(c, "k", "invalid_k"); err != nil {
		abort(c, err)
		return
	}
	if req.Offset, err = intParam(c, "offset", "invalid_offset"); err != nil {
		abort(c, err)
		return
	}
	// filter=<a JSON filter>, filter.<key>=<value>, filter.<key>.<op>=<value>: a 400 names a bad one.
	if req.Filter, err = search.FilterFromQuery(c.Request.URL.Query()); err != nil {
		abort(c, err)
		return
	}
	h.search(c, req, named)
}

// searchBody is the body of a POST search: a search.Request whose tenant, when named, may be
// told from an empty one (which is not a tenant name).
type searchBody struct {
	search.Request
	Tenant *string `json:"tenant"`
}

func (h *handlers) searchPost(c *gin.Context) {
	var body searchBody
	decoder := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&body); err != nil {
		abort(c, newError(http.StatusBadRequest, "invalid_json", "the body is not a valid search request: "+err.Error()))
		return
	}
	if decoder.More() {
		abort(c, newError(http.StatusBadRequest, "invalid_json", "the body holds more than one JSON value"))
		return
	}
	req := body.Request
	if body.Tenant != nil {
		req.Tenant = *body.Tenant
	}
	h.search(c, req, body.Tenant != nil)
}

// search runs the request for its tenant; named says whether the request named one.
func (h *handlers) search(c *gin.Context, req search.Request, named bool) {
	tenant, err := h.tenant(c, req.Tenant, named)
	if err != nil {
		abort(c, err)
		return
	}
	req.Tenant = tenant
	if req.Mode == "" {
		req.Mode = search.ModeHybrid
	}
	c.Set(modeKey, req.Mode)
	ctx, cancel := context.WithTimeout(c.Request.Context(), h.Timeout)
	defer cancel()
	response, err := h.Service.Search(ctx, req)
	if err != nil {
		abort(c, err)
		return
	}
	c.JSON(http.StatusOK, response)
}

func (h *handlers) document(c *gin.Context) {
	requested, named := c.GetQuery("tenant")
	tenant, err := h.tenant(c, requested, named)
	if err != nil {
		abort(c, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), h.Timeout)
	defer cancel()
	document, err := h.Service.Document(ctx, tenant, c.Param("id"))
	if err != nil {
		abort(c, err)
		return
	}
	c.JSON(http.StatusOK, document)
}

func (h *handlers) documentChunks(c *gin.Context) {
	requested, named := c.GetQuery("tenant")
	tenant, err := h.tenant(c, requested, named)
	if err != nil {
		abort(c, err)
		return
	}
	limit, offset := 100, 0
	if value, err := intParam(c, "limit", "invalid_limit"); err != nil {
		abort(c, err)
		return
	} else if value != nil {
		limit = *value
	}
	if value, err := intParam(c, "offset", "invalid_offset"); err != nil {
		abort(c, err)
		return
	} else if value != nil {
		offset = *value
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), h.Timeout)
	defer cancel()
	page, err := h.Service.DocumentChunks(ctx, tenant, c.Param("id"), limit, offset)
	if err != nil {
		abort(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

func (h *handlers) operations(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	c.JSON(http.StatusOK, h.Operations.Overview(ctx))
}

// tenant is the request's tenant: the key's when keys are configured (naming another one is
// forbidden), else the one the request names, else the default tenant. A named tenant must be
// a tenant name: the empty string is not one, nor does it mean "none named".
func (h *handlers) tenant(c *gin.Context, requested string, named bool) (string, error) {
	if named && !search.ValidTenant(requested) {
		return "", newError(http.StatusBadRequest, "invalid_tenant", fmt.Sprintf("%q is not a valid tenant name", requested))
	}
	if h.Keys.Enabled() {
		keyTenant := c.GetString(tenantKey)
		if named && requested != keyTenant {
			return "", newError(http.StatusForbidden, "forbidden", "this key does not give access to tenant "+strconv.Quote(requested))
		}
		return keyTenant, nil
	}
	if !named {
		requested = defaultTenant
	}
	c.Set(tenantKey, requested)
	return requested, nil
}

func floatParam(c *gin.Context, name, code string) (*float64, error) {
	raw, present := c.GetQuery(name)
	if !present {
		return nil, nil
	}
	value, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(value) || math.IsInf(value, 0) {
		return nil, newError(http.StatusBadRequest, code, fmt.Sprintf("%s must be a finite number, not %q", name, raw))
	}
	return &value, nil
}

func intParam(c *gin.Context, name, code string) (*int, error) {
	raw, present := c.GetQuery(name)
	if !present {
		return nil, nil
	}
	value, err := strconv.Atoi(raw)
	if err != nil {
		return nil, newError(http.StatusBadRequest, code, fmt.Sprintf("%s must be an integer, not %q", name, raw))
	}
	return &value, nil
}
