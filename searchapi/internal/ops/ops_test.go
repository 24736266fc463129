package ops

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// sample is one series of an instant vector, as Prometheus's query API answers it.
type sample struct {
	labels map[string]string
	value  string // "1.5", "+Inf", "NaN": what the API writes
}

// fakePrometheus answers GET/POST /api/v1/query with the vector given for each query (empty
// for any other), or with fail's error.
type fakePrometheus struct {
	answers map[string][]sample
	fail    bool
	mu      sync.Mutex
	asked   []string
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	query := r.Form.Get("query")
	f.mu.Lock()
	f.asked = append(f.asked, query)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if f.fail {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"status":"error","errorType":"execution","error":"query timed out"}`))
		return
	}
	result := []map[string]any{}
	for _, s := range f.answers[query] {
		result = append(result, map[string]any{"metric": s.labels, "value": []any{1.7e9, s.value}})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "success",
		"data":   map[string]any{"resultType": "vector", "result": result},
	})
}

func overviewFrom(t *testing.T, fake *fakePrometheus) Overview {
	t.Helper()
	server := httptest.NewServer(fake)
	t.Cleanup(server.Close)
	p, err := NewPrometheus(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Overview(ctx)
}

func one(labels map[string]string, value string) []sample {
	return []sample{{labels: labels, value: value}}
}

func byModel(values map[string]string) []sample {
	var samples []sample
	for model, value := range values {
		samples = append(samples, sample{labels: map[string]string{"model": model}, value: value})
	}
	return samples
}

func info(active, other, phase, timestamp string) sample {
	return sample{labels: map[string]string{"active": active, "other": other, "phase": phase}, value: timestamp}
}

func asJSON(t *testing.T, value any) string {
	t.Helper()
	out, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestWithoutPrometheusTheOverviewSaysWhy(t *testing.T) {
	p, err := NewPrometheus("")
	if err != nil {
		t.Fatal(err)
	}
	overview := p.Overview(context.Background())
	if overview.MetricsAvailable || overview.Error == nil || !strings.Contains(*overview.Error, "prometheus_url is not set") {
		t.Fatalf("overview = %+v", overview)
	}
	got := asJSON(t, overview)
	for _, want := range []string{`"queues":[]`, `"model":null`, `"metrics_available":false`} {
		if !strings.Contains(got, want) {
			t.Errorf("%s lacks %s", got, want)
		}
	}
}

func TestAFailedQueryFailsTheOverview(t *testing.T) {
	overview := overviewFrom(t, &fakePrometheus{fail: true})
	if overview.MetricsAvailable || overview.Error == nil || !strings.Contains(*overview.Error, "query timed out") {
		t.Fatalf("overview = %+v", overview)
	}
	if overview.Model != nil {
		t.Errorf("model = %+v, want none", overview.Model)
	}
}

func TestEveryQueryIsAskedOnce(t *testing.T) {
	fake := &fakePrometheus{}
	overviewFrom(t, fake)
	if len(fake.asked) != len(queries) {
		t.Fatalf("asked %d queries, want %d: %v", len(fake.asked), len(queries), fake.asked)
	}
	for name, query := range queries {
		if !strings.Contains(strings.Join(fake.asked, "\n"), query) {
			t.Errorf("%s (%s) was not asked", name, query)
		}
	}
}

func TestQueuesAndFreshness(t *testing.T) {
	queue := func(name string) map[string]string { return map[string]string{"queue": name} }
	fake := &fakePrometheus{answers: map[string][]sample{
		queries["depth"]:     {{queue("sluice-transform"), "3"}, {queue("sluice-embed"), "0"}},
		queries["age"]:       one(queue("sluice-transform"), "75"),
		queries["scheduled"]: one(queue("sluice-transform"), "1"),
		queries["failed"]:    one(queue("sluice-embed"), "2"),
		queries["workers"]: {
			{map[string]string{"queue": "sluice-transform", "state": "busy"}, "1"},
			{map[string]string{"queue": "sluice-transform", "state": "idle"}, "2"},
		},
		queries["p50"]:     one(nil, "1.25"),
		queries["p95"]:     one(nil, "NaN"),
		queries["indexed"]: one(nil, "11.9999"),
	}}
	overview := overviewFrom(t, fake)
	if !overview.MetricsAvailable || overview.Error != nil {
		t.Fatalf("overview = %+v", overview)
	}
	got := asJSON(t, overview.Queues)
	want := `[{"queue":"sluice-embed","depth":0,"oldest_job_age_seconds":0,"scheduled":0,"failed":2,"workers":{"busy":0,"idle":0}},` +
		`{"queue":"sluice-transform","depth":3,"oldest_job_age_seconds":75,"scheduled":1,"failed":0,"workers":{"busy":1,"idle":2}}]`
	if got != want {
		t.Errorf("queues = %s\nwant     %s", got, want)
	}
	if got, want := asJSON(t, overview.Freshness), `{"window_seconds":300,"p50_seconds":1.25,"p95_seconds":null,"indexed":12}`; got != want {
		t.Errorf("freshness = %s, want %s", got, want)
	}
}

func TestNoModelStateIsNoModel(t *testing.T) {
	overview := overviewFrom(t, &fakePrometheus{})
	if !overview.MetricsAvailable || overview.Model != nil {
		t.Fatalf("overview = %+v", overview)
	}
}

func TestTheActiveModelAlone(t *testing.T) {
	fake := &fakePrometheus{answers: map[string][]sample{
		queries["model"]:   {info("hashing", "", "", "1700000000")},
		queries["done"]:    byModel(map[string]string{"hashing": "0"}),
		queries["pending"]: byModel(map[string]string{"hashing": "0"}),
		queries["rate"]:    one(nil, "0"),
	}}
	got := asJSON(t, overviewFrom(t, fake).Model)
	if want := `{"active":"hashing","other":null,"phase":null,"progress":null}`; got != want {
		t.Errorf("model = %s, want %s", got, want)
	}
}

func TestAChangeBuildingShowsTheNewModelsProgress(t *testing.T) {
	fake := &fakePrometheus{answers: map[string][]sample{
		queries["model"]: {info("all-MiniLM-L6-v2", "e5-small-v2", "building", "1700000000")},
		// The active model's figures (documents filed for it) are not the change's.
		queries["done"]:    byModel(map[string]string{"all-MiniLM-L6-v2": "7", "e5-small-v2": "1234"}),
		queries["pending"]: byModel(map[string]string{"all-MiniLM-L6-v2": "1", "e5-small-v2": "3766"}),
		queries["total"]:   byModel(map[string]string{"all-MiniLM-L6-v2": "8", "e5-small-v2": "5000"}),
		queries["rate"]:    one(nil, "31"),
		queries["eta"]:     byModel(map[string]string{"all-MiniLM-L6-v2": "0.03", "e5-small-v2": "121.48"}),
	}}
	got := asJSON(t, overviewFrom(t, fake).Model)
	want := `{"active":"all-MiniLM-L6-v2","other":"e5-small-v2","phase":"building",` +
		`"progress":{"done":1234,"pending":3766,"total":5000,"rate_per_second":31,"eta_seconds":121.48}}`
	if got != want {
		t.Errorf("model = %s\nwant    %s", got, want)
	}
}

func TestNothingCopiedIsNoETA(t *testing.T) {
	fake := &fakePrometheus{answers: map[string][]sample{
		queries["model"]:   {info("hashing", "e5-small-v2", "building", "1700000000")},
		queries["done"]:    byModel(map[string]string{"e5-small-v2": "0"}),
		queries["pending"]: byModel(map[string]string{"e5-small-v2": "500"}),
		queries["total"]:   byModel(map[string]string{"e5-small-v2": "500"}),
		queries["rate"]:    one(nil, "0"),
		queries["eta"]:     byModel(map[string]string{"e5-small-v2": "+Inf"}),
	}}
	got := asJSON(t, overviewFrom(t, fake).Model.Progress)
	if want := `{"done":0,"pending":500,"total":500,"rate_per_second":0,"eta_seconds":null}`; got != want {
		t.Errorf("progress = %s, want %s", got, want)
	}
}

func TestAfterTheSwitchThePreviousModelIsTheOther(t *testing.T) {
	fake := &fakePrometheus{answers: map[string][]sample{
		// Two replicas for a moment: the one that has seen the switch reported last.
		queries["model"]: {
			info("hashing", "e5-small-v2", "ready", "1700000000"),
			info("e5-small-v2", "hashing", "previous", "1700000005"),
		},
		queries["done"]:    byModel(map[string]string{"e5-small-v2": "500", "hashing": "3"}),
		queries["pending"]: byModel(map[string]string{"e5-small-v2": "0", "hashing": "0"}),
		queries["total"]:   byModel(map[string]string{"e5-small-v2": "500", "hashing": "3"}),
		queries["eta"]:     byModel(map[string]string{"e5-small-v2": "NaN", "hashing": "NaN"}),
	}}
	got := asJSON(t, overviewFrom(t, fake).Model)
	want := `{"active":"e5-small-v2","other":"hashing","phase":"previous",` +
		`"progress":{"done":3,"pending":0,"total":3,"rate_per_second":null,"eta_seconds":null}}`
	if got != want {
		t.Errorf("model = %s\nwant    %s", got, want)
	}
}

// TestTheModelQueriesInPromtool evaluates the model queries on series like the models
// function's (two replicas) with promtool's PromQL unit tests: what Prometheus computes.
func TestTheModelQueriesInPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (`make observability-tools`)")
	}
	type expected struct {
		Labels string  `yaml:"labels"`
		Value  float64 `yaml:"value"`
	}
	type check struct {
		Expr       string     `yaml:"expr"`
		EvalTime   string     `yaml:"eval_time"`
		ExpSamples []expected `yaml:"exp_samples"`
	}
	documents := func(instance, model, state, values string) map[string]string {
		return map[string]string{
			"series": `sluice_migration_documents{job="sluice-models",instance="` + instance + `",model="` + model + `",state="` + state + `"}`,
			"values": values,
		}
	}
	series := []map[string]string{
		// Both replicas report the same documents; 15 copied every 15 s (by replica a).
		documents("a", "e5-small-v2", "done", "0+15x8"),
		documents("b", "e5-small-v2", "done", "0+15x8"),
		documents("a", "e5-small-v2", "pending", "120-15x8"),
		documents("b", "e5-small-v2", "pending", "120-15x8"),
		documents("a", "hashing", "done", "0x8"),
		documents("a", "hashing", "pending", "2x8"),
		{"series": `sluice_migration_copied_documents_total{job="sluice-models",instance="a"}`, "values": "0+15x8"},
		{"series": `sluice_migration_copied_documents_total{job="sluice-models",instance="b"}`, "values": "0x8"},
		// Replica b saw the change start 15 s after a.
		{"series": `sluice_model_info{job="sluice-models",instance="a",active="hashing",other="e5-small-v2",phase="building"}`, "values": "1x8"},
		{"series": `sluice_model_info{job="sluice-models",instance="b",active="hashing",other="",phase=""}`, "values": "1 _x8"},
		{"series": `sluice_model_info{job="sluice-models",instance="b",active="hashing",other="e5-small-v2",phase="building"}`, "values": "_ 1x7"},
	}
	checks := []check{
		{Expr: queries["model"], EvalTime: "1m", ExpSamples: []expected{
			{Labels: `{active="hashing",other="e5-small-v2",phase="building"}`, Value: 60},
			{Labels: `{active="hashing"}`, Value: 0}, // the state b reported before: older
		}},
		{Expr: queries["done"], EvalTime: "1m", ExpSamples: []expected{
			{Labels: `{model="e5-small-v2"}`, Value: 60}, {Labels: `{model="hashing"}`, Value: 0},
		}},
		{Expr: queries["pending"], EvalTime: "1m", ExpSamples: []expected{
			{Labels: `{model="e5-small-v2"}`, Value: 60}, {Labels: `{model="hashing"}`, Value: 2},
		}},
		{Expr: queries["total"], EvalTime: "1m", ExpSamples: []expected{
			{Labels: `{model="e5-small-v2"}`, Value: 120}, {Labels: `{model="hashing"}`, Value: 2},
		}},
		{Expr: queries["rate"], EvalTime: "1m", ExpSamples: []expected{{Labels: `{}`, Value: 1}}},
		{Expr: queries["eta"], EvalTime: "1m", ExpSamples: []expected{
			{Labels: `{model="e5-small-v2"}`, Value: 60}, {Labels: `{model="hashing"}`, Value: 2},
		}},
	}
	// Nothing copied in the last minute: no ETA (+Inf, or NaN with nothing pending either).
	stalled := []map[string]string{
		documents("a", "e5-small-v2", "pending", "40x8"),
		documents("a", "hashing", "pending", "0x8"),
		{"series": `sluice_migration_copied_documents_total{job="sluice-models",instance="a"}`, "values": "80x8"},
	}
	stalledChecks := []check{
		{Expr: queries["rate"], EvalTime: "2m", ExpSamples: []expected{{Labels: `{}`, Value: 0}}},
		{Expr: queries["eta"] + ` == +Inf`, EvalTime: "2m", ExpSamples: []expected{
			{Labels: `{model="e5-small-v2"}`, Value: math.Inf(1)},
		}},
		// NaN, the only value unequal to itself (promtool cannot expect a NaN: it counts them).
		{Expr: `count by (model) ((` + queries["eta"] + `) != (` + queries["eta"] + `))`, EvalTime: "2m", ExpSamples: []expected{
			{Labels: `{model="hashing"}`, Value: 1},
		}},
	}
	tests := map[string]any{
		"evaluation_interval": "15s",
		"tests": []map[string]any{
			{"interval": "15s", "input_series": series, "promql_expr_test": checks},
			{"interval": "15s", "input_series": stalled, "promql_expr_test": stalledChecks},
		},
	}
	out, err := yaml.Marshal(tests)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ops_test.yml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if output, err := exec.Command(promtool, "test", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, output)
	}
}
