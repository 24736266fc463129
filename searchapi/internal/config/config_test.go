package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConf(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"a.yaml": "searchapi:\n  port: 9000\n  max_k: 50\nmilvus:\n  collection: chunks\nchunker:\n  size: 10\n",
		"b.yaml": "searchapi:\n  max_k: 60\n",
	}
	cases := []struct {
		name  string
		env   []string
		check func(Config) bool
		fails string
	}{
		{name: "files merge in name order, the Python services' sections ignored",
			check: func(c Config) bool {
				return c.SearchAPI.Port == 9000 && c.SearchAPI.MaxK == 60 && c.Milvus.Collection == "chunks"
			}},
		{name: "defaults fill the rest", check: func(c Config) bool { return c.SearchAPI.DefaultK == 10 && c.Embedder.Model == Hashing }},
		{name: "environment overrides", env: []string{"SLUICE_SEARCHAPI__PORT=9100", "SLUICE_MILVUS__URI=http://m:1"},
			check: func(c Config) bool { return c.SearchAPI.Port == 9100 && c.Milvus.URI == "http://m:1" }},
		{name: "the platform's PORT", env: []string{"PORT=8181"},
			check: func(c Config) bool { return c.SearchAPI.Port == 8181 }},
		{name: "SLUICE_SEARCHAPI__PORT wins over PORT", env: []string{"SLUICE_SEARCHAPI__PORT=9100", "PORT=8181"},
			check: func(c Config) bool { return c.SearchAPI.Port == 9100 }},
		{name: "json mapping from the environment", env: []string{`SLUICE_AUTH__API_KEYS={"k1": "acme"}`},
			check: func(c Config) bool { return c.Auth.APIKeys["k1"] == "acme" }},
		{name: "wrong type", env: []string{"SLUICE_SEARCHAPI__PORT=eighty"}, fails: `searchapi.port: expected an integer, got "eighty"`},
		{name: "a section nobody reads", env: []string{"SLUICE_CHUNKS__SIZE=10"}, fails: "SLUICE_CHUNKS__SIZE: chunks: no such section"},
		{name: "an unknown key of searchapi's own section", env: []string{"SLUICE_SEARCHAPI__PROT=80"}, fails: "searchapi.prot: unknown key"},
		{name: "a whole section as JSON", env: []string{`SLUICE_LOGGING={"level": "DEBUG"}`},
			check: func(c Config) bool { return c.Logging.Level == "DEBUG" }},
		{name: "a map's key from its own variable", env: []string{"SLUICE_AUTH__API_KEYS__K9=acme"},
			check: func(c Config) bool { return c.Auth.APIKeys["k9"] == "acme" }},
		{name: "every problem is named", env: []string{"SLUICE_MILVUS__HNSW_M=x", "SLUICE_EMBEDDER__DIM=big"},
			fails: "embedder.dim: expected an integer, got \"big\"\n  milvus.hnsw_m: expected an integer, got \"x\""},
		{name: "an embedder needs a model", env: []string{"SLUICE_EMBEDDER__URL=http://e", "SLUICE_EMBEDDER__MODEL="},
			fails: "embedder.model: required"},
		{name: "out of range", env: []string{"SLUICE_SEARCHAPI__DEFAULT_K=70"}, fails: "searchapi.default_k"},
		{name: "a model embedder needs a url", env: []string{"SLUICE_EMBEDDER__MODEL=all-MiniLM-L6-v2"}, fails: "embedder.url"},
		{name: "a model embedder through its endpoint", env: []string{"SLUICE_EMBEDDER__MODEL=all-MiniLM-L6-v2", "SLUICE_EMBEDDER__URL=http://e/v1/embeddings"},
			check: func(c Config) bool {
				return c.Embedder.URL == "http://e/v1/embeddings" && c.Embedder.Model == "all-MiniLM-L6-v2"
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Load(writeConf(t, base), tc.env)
			if tc.fails != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.fails) {
					t.Fatalf("got %v, want an error mentioning %q", err, tc.fails)
				}
				return
			}
			if err != nil || !tc.check(cfg) {
				t.Fatalf("got %+v, %v", cfg, err)
			}
		})
	}
}

func TestLoadNamesTheBadFile(t *testing.T) {
	t.Parallel()
	dir := writeConf(t, map[string]string{"bad.yaml": "searchapi: [unclosed\n"})
	_, err := Load(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Fatalf("got %v", err)
	}
}

func TestTheAPIKeysFile(t *testing.T) {
	t.Parallel()
	keys := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(keys, []byte("k2: globex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(writeConf(t, nil), []string{"SLUICE_AUTH__API_KEYS_FILE=" + keys, `SLUICE_AUTH__API_KEYS={"k1": "acme"}`})
	if err != nil || cfg.Auth.APIKeys["k1"] != "acme" || cfg.Auth.APIKeys["k2"] != "globex" {
		t.Fatalf("got %+v, %v", cfg.Auth, err)
	}
	_, err = Load(writeConf(t, nil), []string{"SLUICE_AUTH__API_KEYS_FILE=/nonexistent/keys.yaml"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "auth.api_keys_file") {
		t.Fatalf("a missing keys file: %v", err)
	}
}

func TestTheRepositoryConfigurationLoads(t *testing.T) {
	t.Parallel()
	cfg, err := Load("../../../conf", nil)
	if err != nil || cfg.SearchAPI.Port != 8080 || cfg.Milvus.Collection != "sluice_chunks" {
		t.Fatalf("got %+v, %v", cfg, err)
	}
}
