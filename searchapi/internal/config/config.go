// Package config loads the search service's settings from the same files as the Python
// functions: every *.yaml file of the configuration directory (SLUICE_CONF_DIR, default
// ./conf) merged in name order, then SLUICE_<SECTION>__<KEY> environment variables.
//
// Decoding is strict, with the Python side's rules and bounds (shared/sluice/settings): an
// unknown key of a section searchapi reads is an error naming section.key, a value of the
// wrong type or out of bounds is an error naming its field, and a section nobody reads is an
// error. The sections only the Python services read are accepted and ignored.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	"sluice.dev/searchapi/internal/analysis"
)

// ConfDirVariable names the configuration directory (it is not a setting).
const ConfDirVariable = "SLUICE_CONF_DIR"

// Config holds the sections the search service reads. Of the sections the Python services
// read too, it declares every key, used or not, so that each is validated the same way.
type Config struct {
	Redis     Redis     `yaml:"redis"`
	Milvus    Milvus    `yaml:"milvus"`
	Embedder  Embedder  `yaml:"embedder"`
	Auth      Auth      `yaml:"auth"`
	Internal  Internal  `yaml:"internal"`
	Ingest    Ingest    `yaml:"ingest"`
	SearchAPI SearchAPI `yaml:"searchapi"`
	Logging   Logging   `yaml:"logging"`
}

// PythonSections are the sections only the Python services read: searchapi accepts and
// ignores them.
var PythonSections = []string{"chunker", "claim_check", "extract", "index", "models", "routing", "worker"}

// Redis is where the pipeline keeps document records.
type Redis struct {
	URL       string `yaml:"url"`
	KeyPrefix string `yaml:"key_prefix"`
}

// Milvus is where the chunks are (NumPartitions and the HNSW settings are the index
// function's, declared to be validated).
type Milvus struct {
	URI                string  `yaml:"uri"`
	Token              string  `yaml:"token"`
	Collection         string  `yaml:"collection"`
	NumPartitions      int     `yaml:"num_partitions"`
	HNSWM              int     `yaml:"hnsw_m"`
	HNSWEfConstruction int     `yaml:"hnsw_ef_construction"`
	TimeoutSeconds     float64 `yaml:"timeout_seconds"`
	// Language is how the collection's text is analysed for full-text search (stems and stop
	// words of a language, or none); queries are analysed the same way.
	Language string `yaml:"language"`
}

// Timeout is the longest a Milvus call may take.
func (m Milvus) Timeout() time.Duration { return seconds(m.TimeoutSeconds) }

// Embedder is the embedder section. searchapi embeds each query with the embedder the
// collection it searches records (the hashing embedder in process, any other model through
// the OpenAI-compatible endpoint at URL); Model is the one the first collection is built with,
// and the others are the Python embedder's.
type Embedder struct {
	Model     string `yaml:"model"`
	Dim       int    `yaml:"dim"`
	BatchSize int    `yaml:"batch_size"`
	ModelsDir string `yaml:"models_dir"`
	Threads   int    `yaml:"threads"`
	URL       string `yaml:"url"`
}

// Hashing is the name of the embedder searchapi computes itself.
const Hashing = "hashing"

// Auth maps API keys to tenants; empty means no authentication.
type Auth struct {
	APIKeys map[string]string `yaml:"api_keys"`
	// APIKeysFile is a YAML file of more keys (a mounted Secret); nil: none.
	APIKeysFile *string `yaml:"api_keys_file"`
}

// Internal is the credential of calls between Sluice's services: searchapi presents Token to
// the embedding endpoint. TokenFile (a mounted Secret), when set, replaces Token.
type Internal struct {
	Token     string  `yaml:"token"`
	TokenFile *string `yaml:"token_file"`
}

// Ingest is the ingest function's section: searchapi forwards the console's ingest requests
// and keeps MaxBodyBytes for them; the other keys are declared to be validated.
type Ingest struct {
	PublicURL         string `yaml:"public_url"`
	MaxBodyBytes      int    `yaml:"max_body_bytes"`
	MaxDocumentBytes  int    `yaml:"max_document_bytes"`
	MaxFileBytes      int    `yaml:"max_file_bytes"`
	MaxBatchDocuments int    `yaml:"max_batch_documents"`
	MaxMetadataBytes  int    `yaml:"max_metadata_bytes"`
	QueueBound        int    `yaml:"queue_bound"`
	RetryAfterSeconds int    `yaml:"retry_after_seconds"`
}

// SearchAPI is the service's own section.
type SearchAPI struct {
	Host                  string  `yaml:"host"`
	Port                  int     `yaml:"port"`
	DefaultK              int     `yaml:"default_k"`
	MaxK                  int     `yaml:"max_k"`
	MaxOffset             int     `yaml:"max_offset"`
	MaxQueryChars         int     `yaml:"max_query_chars"`
	Candidates            int     `yaml:"candidates"`
	CacheSize             int     `yaml:"cache_size"`
	RequestTimeoutSeconds float64 `yaml:"request_timeout_seconds"`
	MaxConcurrentRequests int     `yaml:"max_concurrent_requests"`
	QueueTimeoutSeconds   float64 `yaml:"queue_timeout_seconds"`
	// IngestURL is where the ingest routes of /v1/ingest/ are forwarded (the web console's).
	IngestURL string `yaml:"ingest_url"`
	// PrometheusURL is the Prometheus that /v1/ops reads the pipeline's numbers from; empty:
	// none (the operations page says so).
	PrometheusURL string `yaml:"prometheus_url"`
}

// Address is host:port to listen on.
func (s SearchAPI) Address() string { return fmt.Sprintf("%s:%d", s.Host, s.Port) }

// RequestTimeout bounds the handling of one request.
func (s SearchAPI) RequestTimeout() time.Duration { return seconds(s.RequestTimeoutSeconds) }

// QueueTimeout bounds how long a request waits for one of the MaxConcurrentRequests slots.
func (s SearchAPI) QueueTimeout() time.Duration { return seconds(s.QueueTimeoutSeconds) }

// Logging sets the log level.
type Logging struct {
	Level string `yaml:"level"`
}

// Defaults are the values used when neither a file nor a variable sets them (the Python
// side's defaults).
func Defaults() Config {
	return Config{
		Redis: Redis{URL: "redis://127.0.0.1:6379/0", KeyPrefix: "sluice"},
		Milvus: Milvus{URI: "http://127.0.0.1:19530", Collection: "sluice_chunks", NumPartitions: 16, Language: "english",
			HNSWM: 16, HNSWEfConstruction: 200, TimeoutSeconds: 30},
		Ingest: Ingest{PublicURL: "http://127.0.0.1:8081", MaxBodyBytes: 16 << 20, MaxDocumentBytes: 1 << 20,
			MaxFileBytes: 16 << 20, MaxBatchDocuments: 1000, MaxMetadataBytes: 16 << 10, QueueBound: 1000, RetryAfterSeconds: 5},
		Embedder: Embedder{Model: Hashing, Dim: 384, BatchSize: 32, ModelsDir: ".sluice/models"},
		SearchAPI: SearchAPI{
			Host: "127.0.0.1", Port: 8080, DefaultK: 10, MaxK: 100, MaxOffset: 1000,
			MaxQueryChars: 2000, Candidates: 100, CacheSize: 4096, RequestTimeoutSeconds: 10,
			MaxConcurrentRequests: 8, QueueTimeoutSeconds: 1, IngestURL: "http://127.0.0.1:8081",
		},
		Logging: Logging{Level: "INFO"},
	}
}

// ErrInvalid wraps every configuration error.
var ErrInvalid = errors.New("invalid configuration")

// Load reads the configuration directory and the environment (as from os.Environ).
func Load(dir string, environ []string) (Config, error) {
	tree, err := readDir(dir)
	if err != nil {
		return Config{}, err
	}
	applyPlatformPort(tree, environ)
	if err := applyEnvironment(tree, environ); err != nil {
		return Config{}, err
	}
	cfg := Defaults()
	if problems := decode(tree, &cfg); len(problems) > 0 {
		return Config{}, fmt.Errorf("%w (files in %s and SLUICE_ variables):\n  %s",
			ErrInvalid, dir, strings.Join(problems, "\n  "))
	}
	if err := cfg.loadKeysFile(); err != nil {
		return Config{}, err
	}
	if err := cfg.loadTokenFile(); err != nil {
		return Config{}, err
	}
	return cfg, cfg.validate()
}

func (c *Config) loadKeysFile() error {
	if c.Auth.APIKeysFile == nil {
		return nil
	}
	file := *c.Auth.APIKeysFile
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%w: auth.api_keys_file: %w", ErrInvalid, err)
	}
	keys := map[string]string{}
	if err := yaml.Unmarshal(data, &keys); err != nil {
		return fmt.Errorf("%w: auth.api_keys_file: %s must map API keys to tenants: %w", ErrInvalid, file, err)
	}
	if c.Auth.APIKeys == nil {
		c.Auth.APIKeys = map[string]string{}
	}
	for key, tenant := range keys {
		c.Auth.APIKeys[key] = tenant
	}
	return nil
}

func (c *Config) loadTokenFile() error {
	if c.Internal.TokenFile == nil {
		return nil
	}
	data, err := os.ReadFile(*c.Internal.TokenFile)
	if err != nil {
		return fmt.Errorf("%w: internal.token_file: %w", ErrInvalid, err)
	}
	c.Internal.Token = strings.TrimSpace(string(data))
	if c.Internal.Token == "" {
		return fmt.Errorf("%w: internal.token_file: %s is empty: it must hold the internal token",
			ErrInvalid, *c.Internal.TokenFile)
	}
	return nil
}

var collectionName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,200}$`)

// validate checks the bounds (the Python side's, and searchapi's own).
func (c Config) validate() error {
	var problems []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	within := func(name string, value, least, most int) {
		check(value >= least && value <= most, "%s: %d is not within %d..%d", name, value, least, most)
	}
	m := c.Milvus
	check(collectionName.MatchString(m.Collection), "milvus.collection: %q is not a collection name (%s)", m.Collection, collectionName)
	within("milvus.num_partitions", m.NumPartitions, 1, 1024)
	check(slices.Contains(analysis.Languages, m.Language), "milvus.language: %q is not one of %s", m.Language, strings.Join(analysis.Languages, ", "))
	within("milvus.hnsw_m", m.HNSWM, 2, 100)
	within("milvus.hnsw_ef_construction", m.HNSWEfConstruction, 8, 2000)
	check(m.TimeoutSeconds > 0, "milvus.timeout_seconds: must be positive")

	e := c.Embedder
	check(e.Model != "", "embedder.model: required")
	within("embedder.dim", e.Dim, 8, 32768)
	within("embedder.batch_size", e.BatchSize, 1, 4096)
	within("embedder.threads", e.Threads, 0, 256)
	check(e.Model == Hashing || e.URL != "",
		"embedder.url: required for embedder.model %q (searchapi embeds queries through that endpoint)", e.Model)

	for key, tenant := range c.Auth.APIKeys {
		check(key != "" && tenant != "", "auth.api_keys: keys and tenants must not be empty")
	}
	levels := []string{"DEBUG", "INFO", "WARNING", "ERROR"}
	check(slices.Contains(levels, c.Logging.Level), "logging.level: %q is not one of %s", c.Logging.Level, strings.Join(levels, ", "))

	in := c.Ingest
	check(in.MaxBodyBytes >= 1024, "ingest.max_body_bytes: must be at least 1024")
	check(in.MaxDocumentBytes >= 1, "ingest.max_document_bytes: must be at least 1")
	check(in.MaxFileBytes >= 1024, "ingest.max_file_bytes: must be at least 1024")
	check(in.MaxBatchDocuments >= 1, "ingest.max_batch_documents: must be at least 1")
	check(in.MaxMetadataBytes >= 2, "ingest.max_metadata_bytes: must be at least 2")
	check(in.QueueBound >= 1, "ingest.queue_bound: must be at least 1")
	check(in.RetryAfterSeconds >= 1, "ingest.retry_after_seconds: must be at least 1")

	s := c.SearchAPI
	check(httpURL(s.IngestURL), "searchapi.ingest_url: %q is not an http(s) URL", s.IngestURL)
	check(s.PrometheusURL == "" || httpURL(s.PrometheusURL), "searchapi.prometheus_url: %q is not an http(s) URL", s.PrometheusURL)
	check(s.Port > 0 && s.Port < 65536, "searchapi.port: %d is not a port", s.Port)
	check(s.MaxK >= 1, "searchapi.max_k: must be at least 1")
	check(s.DefaultK >= 1 && s.DefaultK <= s.MaxK, "searchapi.default_k: must be within 1..max_k")
	check(s.MaxOffset >= 0, "searchapi.max_offset: must not be negative")
	check(s.Candidates >= 1, "searchapi.candidates: must be at least 1")
	check(s.CacheSize >= 0, "searchapi.cache_size: must not be negative")
	check(s.MaxQueryChars >= 1, "searchapi.max_query_chars: must be at least 1")
	check(s.RequestTimeoutSeconds > 0, "searchapi.request_timeout_seconds: must be positive")
	check(s.MaxConcurrentRequests >= 1, "searchapi.max_concurrent_requests: must be at least 1")
	check(s.QueueTimeoutSeconds > 0, "searchapi.queue_timeout_seconds: must be positive")
	if len(problems) > 0 {
		slices.Sort(problems)
		problems = slices.Compact(problems)
		return fmt.Errorf("%w:\n  %s", ErrInvalid, strings.Join(problems, "\n  "))
	}
	return nil
}

func httpURL(raw string) bool {
	parsed, err := url.Parse(raw)
	return err == nil && (parsed.Scheme == "http" || parsed.Scheme == "https") && parsed.Host != ""
}

func seconds(value float64) time.Duration { return time.Duration(value * float64(time.Second)) }
