// Command searchapi is Sluice's always-warm search service: dense, full-text and hybrid
// search over the chunks the pipeline indexed in Milvus.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc/grpclog"

	"sluice.dev/searchapi/internal/analysis"
	"sluice.dev/searchapi/internal/config"
	"sluice.dev/searchapi/internal/documents"
	"sluice.dev/searchapi/internal/embed"
	"sluice.dev/searchapi/internal/metrics"
	"sluice.dev/searchapi/internal/milvus"
	"sluice.dev/searchapi/internal/ops"
	"sluice.dev/searchapi/internal/search"
	"sluice.dev/searchapi/internal/server"
	"sluice.dev/searchapi/web"
)

// processStart is taken when the program's packages initialise, milliseconds after exec.
var processStart = time.Now()

func main() {
	healthcheck := flag.Bool("healthcheck", false,
		"ask the searchapi running on this host for /healthz and exit 0 if it answers 200 "+
			"(a container HEALTHCHECK for images without a shell or curl)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	run := realMain
	if *healthcheck {
		run = checkHealth
	}
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "searchapi:", err)
		os.Exit(1)
	}
}

func loadConfig() (config.Config, error) {
	dir := os.Getenv(config.ConfDirVariable)
	if dir == "" {
		dir = "conf"
	}
	return config.Load(dir, os.Environ())
}

// checkHealth GETs /healthz of the service this configuration describes, on loopback.
func checkHealth(ctx context.Context) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	host := cfg.SearchAPI.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.SearchAPI.Port)) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	return nil
}

func realMain(ctx context.Context) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level(cfg.Logging.Level)})).
		With("service", "searchapi")
	grpclog.SetLoggerV2(grpcLogger{log})
	m := metrics.New()

	embedder := newEmbedder(cfg, m)
	analyzer, err := analysis.New(cfg.Milvus.Language)
	if err != nil {
		return err
	}
	chunks := milvus.New(cfg.Milvus.URI, cfg.Milvus.Token, cfg.Milvus.Collection,
		analyzer.Identity(), cfg.Milvus.Timeout(), m.ObserveMilvus)
	defer func() { _ = chunks.Close(context.Background()) }()
	records, err := documents.New(cfg.Redis.URL, cfg.Redis.KeyPrefix)
	if err != nil {
		return err
	}
	defer func() { _ = records.Close() }()

	s := cfg.SearchAPI
	service := search.NewService(chunks, records, embedder, analyzer, search.Limits{
		DefaultK: s.DefaultK, MaxK: s.MaxK, MaxOffset: s.MaxOffset,
		MaxQueryChars: s.MaxQueryChars, Candidates: s.Candidates,
	})
	ingest, err := server.NewIngestProxy(s.IngestURL, int64(cfg.Ingest.MaxBodyBytes), log)
	if err != nil {
		return err
	}
	operations, err := ops.NewPrometheus(s.PrometheusURL)
	if err != nil {
		return err
	}
	files, built := web.Console()
	if !built {
		log.Info("the web console is not built into this binary (make web)")
	}
	router := server.New(server.Deps{
		Service: service,
		Ready:   []server.Check{{Name: "milvus", Run: chunks.Ping}, {Name: "redis", Run: records.Ping}},
		Keys:    server.NewKeys(cfg.Auth.APIKeys), Metrics: m, Log: log, Timeout: s.RequestTimeout(),
		Admission: server.NewAdmission(s.MaxConcurrentRequests, s.QueueTimeout()),
		Started:   processStart,
		Console:   server.NewConsole(files), Ingest: ingest, Operations: operations,
	})
	httpServer := server.NewHTTPServer(s.Address(), router, server.ReadTimeout)

	failed := make(chan error, 1)
	go func() { failed <- httpServer.ListenAndServe() }()
	log.Info("listening", "address", s.Address(), "collection", cfg.Milvus.Collection,
		"embedder_url", cfg.Embedder.URL, "api_keys", len(cfg.Auth.APIKeys) > 0)
	select {
	case err := <-failed:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := httpServer.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-failed; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newEmbedder builds the query embedders (each collection's model on first use), timed and
// cached.
func newEmbedder(cfg config.Config, m *metrics.Metrics) *embed.Models {
	client := &http.Client{Timeout: cfg.SearchAPI.RequestTimeout()}
	return embed.NewModels(cfg.Embedder.URL, cfg.Internal.Token, client, cfg.SearchAPI.CacheSize, m.ObserveCache,
		func(inner embed.Embedder) embed.Embedder { return timed{inner, m} })
}

// timed records how long the embedder behind the cache takes.
type timed struct {
	embed.Embedder
	metrics *metrics.Metrics
}

func (t timed) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	started := time.Now()
	defer func() { t.metrics.EmbedDuration.Observe(time.Since(started).Seconds()) }()
	return t.Embedder.Embed(ctx, texts)
}

// level is the slog level of a logging.level (DEBUG, INFO, WARNING or ERROR, as validated).
func level(name string) slog.Level {
	switch name {
	case "DEBUG":
		return slog.LevelDebug
	case "WARNING":
		return slog.LevelWarn
	case "ERROR":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}
