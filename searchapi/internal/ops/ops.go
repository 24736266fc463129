// Package ops answers the console's operations page from Prometheus: the queue gauges the
// queue exporter serves, the freshness histogram the index function observes, and the
// embedding model's state and a model change's progress the models function reports. It
// computes nothing itself: Prometheus aggregates every replica and the last minutes.
package ops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Window is the span the freshness figures cover.
const Window = 5 * time.Minute

// RateWindow is the span a model change's copy rate is measured over.
const RateWindow = time.Minute

// Workers counts the workers serving a queue, by state.
type Workers struct {
	Busy float64 `json:"busy"`
	Idle float64 `json:"idle"`
}

// Queue is one RQ queue's state, as the queue exporter reports it.
type Queue struct {
	Queue               string  `json:"queue"`
	Depth               float64 `json:"depth"`
	OldestJobAgeSeconds float64 `json:"oldest_job_age_seconds"`
	Scheduled           float64 `json:"scheduled"`
	Failed              float64 `json:"failed"`
	Workers             Workers `json:"workers"`
}

// Freshness is the time from ingest accepting a version to index marking it indexed.
type Freshness struct {
	WindowSeconds int      `json:"window_seconds"`
	P50Seconds    *float64 `json:"p50_seconds"`
	P95Seconds    *float64 `json:"p95_seconds"`
	Indexed       float64  `json:"indexed"`
}

// Model is the embedding model state the models function reports (sluice_model_info): the
// active model, the other one kept beside it (the new model while a change builds its
// collection or waits for the switch, the previous one after it) and the phase of the change.
type Model struct {
	Active string `json:"active"`
	// Other is null when only the active model's collection is kept.
	Other *string `json:"other"`
	// Phase is "building", "ready" or "previous"; null with no other model.
	Phase *string `json:"phase"`
	// Progress is the other model's collection's, null with no other model.
	Progress *Progress `json:"progress"`
}

// Progress is how far the copy into the other model's collection is: documents copied since
// the change began (Done), waiting (Pending), both (Total), the documents copied per second
// over the last minute (null before Prometheus has two samples of the counter) and the
// seconds left at that rate (null when nothing is being copied).
type Progress struct {
	Done          float64  `json:"done"`
	Pending       float64  `json:"pending"`
	Total         float64  `json:"total"`
	RatePerSecond *float64 `json:"rate_per_second"`
	ETASeconds    *float64 `json:"eta_seconds"`
}

// Overview is what the operations page shows. MetricsAvailable is false (and Error says why)
// when Prometheus is not configured or did not answer.
type Overview struct {
	Queues    []Queue   `json:"queues"`
	Freshness Freshness `json:"freshness"`
	// Model is null when Prometheus has no model state (the models function is not scraped).
	Model            *Model  `json:"model"`
	PrometheusURL    string  `json:"prometheus_url"`
	MetricsAvailable bool    `json:"metrics_available"`
	Error            *string `json:"error"`
}

// Prometheus reads the overview from a Prometheus server's query API.
type Prometheus struct {
	url string
	api promv1.API
}

// NewPrometheus reads from the Prometheus at url ("" for none).
func NewPrometheus(url string) (*Prometheus, error) {
	p := &Prometheus{url: url}
	if url == "" {
		return p, nil
	}
	client, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return nil, fmt.Errorf("searchapi.prometheus_url: %w", err)
	}
	p.api = promv1.NewAPI(client)
	return p, nil
}

var (
	window     = model.Duration(Window).String()
	rateWindow = model.Duration(RateWindow).String()
	copyRate   = `sum(rate(sluice_migration_copied_documents_total[` + rateWindow + `]))`
)

// The queries, by what they fill in (max: several exporters watching the same Redis agree,
// and so do several replicas of the models function, which all read the model state from
// Redis). The model state is one series; while replicas disagree for a moment (one has seen a
// change the other has not yet) its timestamp tells the most recent (timestamp() of the selector
// itself: of anything computed from it, it is the evaluation time). The documents are per
// model (of the collection they go to); the ETA divides each model's pending documents by the
// copy rate, +Inf or NaN (null) when nothing is copied.
var queries = map[string]string{
	"depth":     `max by (queue) (sluice_queue_depth)`,
	"age":       `max by (queue) (sluice_queue_oldest_job_age_seconds)`,
	"scheduled": `max by (queue) (sluice_queue_scheduled_jobs)`,
	"failed":    `max by (queue) (sluice_queue_failed_jobs)`,
	"workers":   `max by (queue, state) (sluice_workers)`,
	"p50":       `histogram_quantile(0.5, sum by (le) (rate(sluice_document_freshness_seconds_bucket[` + window + `])))`,
	"p95":       `histogram_quantile(0.95, sum by (le) (rate(sluice_document_freshness_seconds_bucket[` + window + `])))`,
	"indexed":   `sum(increase(sluice_document_freshness_seconds_count[` + window + `]))`,
	"model":     `max by (active, other, phase) (timestamp(sluice_model_info))`,
	"done":      `max by (model) (sluice_migration_documents{state="done"})`,
	"pending":   `max by (model) (sluice_migration_documents{state="pending"})`,
	"total":     `sum by (model) (max by (model, state) (sluice_migration_documents{state=~"done|pending"}))`,
	"rate":      copyRate,
	"eta":       `max by (model) (sluice_migration_documents{state="pending"}) / on () group_left () ` + copyRate,
}

// Overview queries Prometheus (all queries at once, within ctx).
func (p *Prometheus) Overview(ctx context.Context) Overview {
	overview := Overview{Queues: []Queue{}, PrometheusURL: p.url,
		Freshness: Freshness{WindowSeconds: int(Window.Seconds())}}
	if p.api == nil {
		return overview.failed(errors.New("searchapi.prometheus_url is not set: the queue and freshness figures come from Prometheus"))
	}
	results := make(map[string]model.Vector, len(queries))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failure error
	for name, query := range queries {
		wg.Go(func() {
			value, _, _, err := p.api.Query(ctx, query, time.Now())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failure = fmt.Errorf("prometheus at %s: %w", p.url, err)
				return
			}
			vector, _ := value.(model.Vector)
			results[name] = vector
		})
	}
	wg.Wait()
	if failure != nil {
		return overview.failed(failure)
	}
	overview.MetricsAvailable = true
	overview.Queues = queuesOf(results)
	overview.Freshness.P50Seconds = scalar(results["p50"])
	overview.Freshness.P95Seconds = scalar(results["p95"])
	if indexed := scalar(results["indexed"]); indexed != nil {
		overview.Freshness.Indexed = math.Round(*indexed)
	}
	overview.Model = modelOf(results)
	return overview
}

func (o Overview) failed(err error) Overview {
	message := err.Error()
	o.Error = &message
	return o
}

func queuesOf(results map[string]model.Vector) []Queue {
	byName := map[string]*Queue{}
	queue := func(sample *model.Sample) *Queue {
		name := string(sample.Metric["queue"])
		if byName[name] == nil {
			byName[name] = &Queue{Queue: name}
		}
		return byName[name]
	}
	fields := map[string]func(*Queue) *float64{
		"depth":     func(q *Queue) *float64 { return &q.Depth },
		"age":       func(q *Queue) *float64 { return &q.OldestJobAgeSeconds },
		"scheduled": func(q *Queue) *float64 { return &q.Scheduled },
		"failed":    func(q *Queue) *float64 { return &q.Failed },
	}
	for name, field := range fields {
		for _, sample := range results[name] {
			*field(queue(sample)) = float64(sample.Value)
		}
	}
	for _, sample := range results["workers"] {
		q := queue(sample)
		switch sample.Metric["state"] {
		case "busy":
			q.Workers.Busy = float64(sample.Value)
		case "idle":
			q.Workers.Idle = float64(sample.Value)
		}
	}
	queues := make([]Queue, 0, len(byName))
	for _, q := range byName {
		queues = append(queues, *q)
	}
	slices.SortFunc(queues, func(a, b Queue) int { return strings.Compare(a.Queue, b.Queue) })
	return queues
}

// modelOf is the most recently reported model state, and the other model's progress; nil when
// none is reported.
func modelOf(results map[string]model.Vector) *Model {
	states := results["model"]
	if len(states) == 0 {
		return nil
	}
	latest := slices.MaxFunc(states, func(a, b *model.Sample) int {
		if a.Value != b.Value {
			return cmp.Compare(a.Value, b.Value)
		}
		return strings.Compare(a.Metric.String(), b.Metric.String()) // the same time: any, but always the same
	})
	m := &Model{Active: string(latest.Metric["active"])}
	other, phase := string(latest.Metric["other"]), string(latest.Metric["phase"])
	if phase != "" {
		m.Phase = &phase
	}
	if other == "" {
		return m
	}
	m.Other = &other
	of := func(name string) *float64 { return scalar(ofModel(results[name], other)) }
	m.Progress = &Progress{RatePerSecond: scalar(results["rate"]), ETASeconds: of("eta")}
	for name, field := range map[string]*float64{"done": &m.Progress.Done, "pending": &m.Progress.Pending, "total": &m.Progress.Total} {
		if value := of(name); value != nil {
			*field = *value
		}
	}
	return m
}

// ofModel is the samples of a model's documents.
func ofModel(vector model.Vector, name string) model.Vector {
	return slices.DeleteFunc(slices.Clone(vector), func(s *model.Sample) bool { return string(s.Metric["model"]) != name })
}

// scalar is the one value of a vector, nil when there is none or it is not a number (a
// quantile over a window with nothing in it).
func scalar(vector model.Vector) *float64 {
	if len(vector) == 0 {
		return nil
	}
	value := float64(vector[0].Value)
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return nil
	}
	return &value
}
