// Package config loads the search service's settings from the same files as the Python
// functions: every *.yaml file of the configuration directory (SLUICE_CONF_DIR, default
// ./conf) merged in name order, then SLUICE_<SECTION>__<KEY> environment variables.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	envPrefix    = "SLUICE_"
	envDelimiter = "__"
	// ConfDirVariable names the configuration directory.
	ConfDirVariable = "SLUICE_CONF_DIR"
)

// Config holds the sections the search service reads; the functions' sections are ignored.
type Config struct {
	Redis     Redis     `yaml:"redis"`
	Milvus    Milvus    `yaml:"milvus"`
	Embedder  Embedder  `yaml:"embedder"`
	Auth      Auth      `yaml:"auth"`
	SearchAPI SearchAPI `yaml:"searchapi"`
	Logging   Logging   `yaml:"logging"`
}

// Redis is where the pipeline keeps document records.
type Redis struct {
	URL       string `yaml:"url"`
	KeyPrefix string `yaml:"key_prefix"`
}

// Milvus is where the chunks are.
type Milvus struct {
	URI            string  `yaml:"uri"`
	Token          string  `yaml:"token"`
	Collection     string  `yaml:"collection"`
	TimeoutSeconds float64 `yaml:"timeout_seconds"`
}

// Timeout is the longest a Milvus call may take.
func (m Milvus) Timeout() time.Duration { return seconds(m.TimeoutSeconds) }

// Embedder names the embedder that indexed the chunks; queries must use the same one:
// kind hashing is computed in process, any other kind through the OpenAI-compatible
// endpoint at URL serving Model.
type Embedder struct {
	Kind  string `yaml:"kind"`
	Dim   int    `yaml:"dim"`
	URL   string `yaml:"url"`
	Model string `yaml:"model"`
}

// Auth maps API keys to tenants; empty means no authentication.
type Auth struct {
	APIKeys     map[string]string `yaml:"api_keys"`
	APIKeysFile string            `yaml:"api_keys_file"`
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
}

// Address is host:port to listen on.
func (s SearchAPI) Address() string { return fmt.Sprintf("%s:%d", s.Host, s.Port) }

// RequestTimeout bounds the handling of one request.
func (s SearchAPI) RequestTimeout() time.Duration { return seconds(s.RequestTimeoutSeconds) }

// Logging sets the log level.
type Logging struct {
	Level string `yaml:"level"`
}

// Defaults are the values used when neither a file nor a variable sets them.
func Defaults() Config {
	return Config{
		Redis:    Redis{URL: "redis://127.0.0.1:6379/0", KeyPrefix: "sluice"},
		Milvus:   Milvus{URI: "http://127.0.0.1:19530", Collection: "sluice_chunks", TimeoutSeconds: 30},
		Embedder: Embedder{Kind: "hashing", Dim: 384, Model: "all-MiniLM-L6-v2"},
		SearchAPI: SearchAPI{
			Host: "127.0.0.1", Port: 8080, DefaultK: 10, MaxK: 100, MaxOffset: 1000,
			MaxQueryChars: 2000, Candidates: 100, CacheSize: 4096, RequestTimeoutSeconds: 10,
		},
		Logging: Logging{Level: "INFO"},
	}
}

// ErrInvalid wraps every configuration error.
var ErrInvalid = errors.New("invalid configuration")

// Load reads the configuration directory and the environment (as from os.Environ).
func Load(dir string, environ []string) (Config, error) {
	merged := map[string]any{}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	sort.Strings(files)
	for _, file := range files {
		tree, err := readYAML(file)
		if err != nil {
			return Config{}, err
		}
		merge(merged, tree)
	}
	applyPlatformPort(merged, environ)
	if err := applyEnvironment(merged, environ); err != nil {
		return Config{}, err
	}
	cfg := Defaults()
	raw, err := yaml.Marshal(merged)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return Config{}, fmt.Errorf("%w (files in %s and SLUICE_ variables): %v", ErrInvalid, dir, err)
	}
	if err := cfg.loadKeysFile(); err != nil {
		return Config{}, err
	}
	return cfg, cfg.validate()
}

func readYAML(file string) (map[string]any, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	tree := map[string]any{}
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, file, err)
	}
	return tree, nil
}

// merge copies src into dst, recursing into mappings present in both.
func merge(dst, src map[string]any) {
	for key, value := range src {
		inner, isMap := value.(map[string]any)
		existing, hadMap := dst[key].(map[string]any)
		if isMap && hadMap {
			merge(existing, inner)
			continue
		}
		dst[key] = value
	}
}

// applyPlatformPort honours PORT, which Knative and most container platforms set to the port the
// container must listen on; SLUICE_SEARCHAPI__PORT, applied after it, still wins.
func applyPlatformPort(tree map[string]any, environ []string) {
	for _, entry := range environ {
		if port, found := strings.CutPrefix(entry, "PORT="); found && port != "" {
			section, ok := tree["searchapi"].(map[string]any)
			if !ok {
				section = map[string]any{}
				tree["searchapi"] = section
			}
			section["port"] = parseValue(port)
		}
	}
}

// applyEnvironment sets SLUICE_A__B=value at path a.b; values are read as YAML, so numbers,
// booleans and JSON mappings keep their types.
func applyEnvironment(tree map[string]any, environ []string) error {
	for _, entry := range environ {
		name, value, found := strings.Cut(entry, "=")
		upper := strings.ToUpper(name)
		if !found || !strings.HasPrefix(upper, envPrefix) || upper == ConfDirVariable {
			continue
		}
		path := strings.Split(strings.ToLower(strings.TrimPrefix(upper, envPrefix)), strings.ToLower(envDelimiter))
		parsed := parseValue(value)
		node := tree
		for _, part := range path[:len(path)-1] {
			child, ok := node[part].(map[string]any)
			if !ok {
				child = map[string]any{}
				node[part] = child
			}
			node = child
		}
		node[path[len(path)-1]] = parsed
	}
	return nil
}

// parseValue reads an environment value as YAML (numbers, booleans, JSON), else as a string.
func parseValue(value string) any {
	var parsed any
	if err := yaml.Unmarshal([]byte(value), &parsed); err != nil {
		return value
	}
	return parsed
}

func (c *Config) loadKeysFile() error {
	if c.Auth.APIKeysFile == "" {
		return nil
	}
	data, err := os.ReadFile(c.Auth.APIKeysFile)
	if err != nil {
		return fmt.Errorf("%w: auth.api_keys_file: %v", ErrInvalid, err)
	}
	keys := map[string]string{}
	if err := yaml.Unmarshal(data, &keys); err != nil {
		return fmt.Errorf("%w: %s: must map API keys to tenants: %v", ErrInvalid, c.Auth.APIKeysFile, err)
	}
	if c.Auth.APIKeys == nil {
		c.Auth.APIKeys = map[string]string{}
	}
	for key, tenant := range keys {
		c.Auth.APIKeys[key] = tenant
	}
	return nil
}

var collectionName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,200}$`)

func (c Config) validate() error {
	var problems []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	s := c.SearchAPI
	check(s.Port > 0 && s.Port < 65536, "searchapi.port: %d is not a port", s.Port)
	check(s.MaxK >= 1, "searchapi.max_k: must be at least 1")
	check(s.DefaultK >= 1 && s.DefaultK <= s.MaxK, "searchapi.default_k: must be within 1..max_k")
	check(s.MaxOffset >= 0, "searchapi.max_offset: must not be negative")
	check(s.Candidates >= 1, "searchapi.candidates: must be at least 1")
	check(s.CacheSize >= 0, "searchapi.cache_size: must not be negative")
	check(s.MaxQueryChars >= 1, "searchapi.max_query_chars: must be at least 1")
	check(s.RequestTimeoutSeconds > 0, "searchapi.request_timeout_seconds: must be positive")
	check(c.Milvus.TimeoutSeconds > 0, "milvus.timeout_seconds: must be positive")
	check(collectionName.MatchString(c.Milvus.Collection), "milvus.collection: %q is not a collection name", c.Milvus.Collection)
	check(c.Embedder.Dim >= 8, "embedder.dim: must be at least 8")
	check(c.Embedder.Kind == "hashing" || c.Embedder.URL != "",
		"embedder.url: required for embedder.kind %q (searchapi embeds queries through that endpoint)", c.Embedder.Kind)
	check(c.Embedder.Kind == "hashing" || c.Embedder.Model != "",
		"embedder.model: required for embedder.kind %q", c.Embedder.Kind)
	for key, tenant := range c.Auth.APIKeys {
		check(key != "" && tenant != "", "auth.api_keys: keys and tenants must not be empty")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrInvalid, strings.Join(problems, "\n  "))
	}
	return nil
}

func seconds(value float64) time.Duration { return time.Duration(value * float64(time.Second)) }
