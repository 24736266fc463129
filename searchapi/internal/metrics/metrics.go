// Package metrics defines the search service's Prometheus metrics.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's collectors, registered on their own registry.
type Metrics struct {
	Registry        *prometheus.Registry
	Requests        *prometheus.CounterVec
	RequestDuration *prometheus.HistogramVec
	MilvusDuration  *prometheus.HistogramVec
	EmbedDuration   prometheus.Histogram
	EmbedCache      *prometheus.CounterVec
	ColdStart       prometheus.Observer
}

// New creates and registers the metrics (plus the Go and process collectors).
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_searchapi_requests_total",
			Help: "HTTP requests handled, by route, search mode and status code.",
		}, []string{"route", "mode", "status"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_searchapi_request_duration_seconds",
			Help:    "Time to handle a request, by route and search mode.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"route", "mode"}),
		MilvusDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_searchapi_milvus_duration_seconds",
			Help:    "Time of a Milvus call, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"operation"}),
		EmbedDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sluice_searchapi_embedding_duration_seconds",
			Help:    "Time to embed a query (cache misses only).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		EmbedCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_searchapi_embedding_cache_total",
			Help: "Query embedding cache lookups, by result (hit or miss).",
		}, []string{"result"}),
	}
	coldStart := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sluice_cold_start_seconds",
		Help:    "Time from process start to the first successful readiness check, per function.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"function"})
	m.ColdStart = coldStart.WithLabelValues("searchapi")
	m.Registry.MustRegister(coldStart, m.Requests, m.RequestDuration, m.MilvusDuration, m.EmbedDuration,
		m.EmbedCache, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveMilvus records one Milvus call.
func (m *Metrics) ObserveMilvus(operation string, took time.Duration) {
	m.MilvusDuration.WithLabelValues(operation).Observe(took.Seconds())
}

// ObserveCache records one cache lookup.
func (m *Metrics) ObserveCache(hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.EmbedCache.WithLabelValues(result).Inc()
}

// ObserveRequest records one HTTP request.
func (m *Metrics) ObserveRequest(route, mode string, status int, took time.Duration) {
	m.Requests.WithLabelValues(route, mode, strconv.Itoa(status)).Inc()
	m.RequestDuration.WithLabelValues(route, mode).Observe(took.Seconds())
}

// ObserveColdStart records the time from process start to the first successful readiness check.
func (m *Metrics) ObserveColdStart(took time.Duration) { m.ColdStart.Observe(took.Seconds()) }

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
