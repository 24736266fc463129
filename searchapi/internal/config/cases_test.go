package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// casesFile holds the configuration edge cases the Python settings tests run too.
const casesFile = "../../../tests/shared/testdata/config_cases.yaml"

type configCases struct {
	Sections map[string][]string `yaml:"sections"`
	Keys     map[string][]string `yaml:"keys"`
	Cases    []struct {
		Name    string            `yaml:"name"`
		Section string            `yaml:"section"`
		Env     map[string]string `yaml:"env"`
		YAML    string            `yaml:"yaml"`
		Error   string            `yaml:"error"`
	} `yaml:"cases"`
}

func loadCases(t *testing.T) configCases {
	t.Helper()
	raw, err := os.ReadFile(casesFile)
	if err != nil {
		t.Fatalf("reading the shared configuration cases: %v", err)
	}
	var cases configCases
	decoder := yaml.NewDecoder(strings.NewReader(string(raw)))
	decoder.KnownFields(true)
	if err := decoder.Decode(&cases); err != nil {
		t.Fatalf("decoding %s: %v", casesFile, err)
	}
	return cases
}

// copyConf copies the repository's conf/*.yaml into a new directory.
func copyConf(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob("../../../conf/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no conf/*.yaml: %v", err)
	}
	dir := t.TempDir()
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(file)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSharedCases(t *testing.T) {
	t.Parallel()
	shared := loadCases(t)
	names := map[string]bool{}
	for _, tc := range shared.Cases {
		if names[tc.Name] {
			t.Fatalf("two cases named %q", tc.Name)
		}
		names[tc.Name] = true
		if _, known := shared.Sections[tc.Section]; !known && tc.Section != "top" {
			t.Fatalf("case %q: no section %q", tc.Name, tc.Section)
		}
		if tc.Section != "top" && !slices.Contains(shared.Sections[tc.Section], "go") {
			continue
		}
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			dir := copyConf(t)
			if tc.YAML != "" {
				if err := os.WriteFile(filepath.Join(dir, "zz-case.yaml"), []byte(tc.YAML), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			environ := []string{ConfDirVariable + "=" + dir}
			for _, name := range sortedKeys(tc.Env) {
				environ = append(environ, name+"="+tc.Env[name])
			}
			_, err := Load(dir, environ)
			switch {
			case tc.Error == "" && err != nil:
				t.Fatalf("want the load to succeed, got %v", err)
			case tc.Error != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.Error)):
				t.Fatalf("want an error naming %s, got %v", tc.Error, err)
			}
		})
	}
}

func TestTheSharedSectionsAndKeysAreGos(t *testing.T) {
	t.Parallel()
	shared := loadCases(t)
	var read, python, both []string
	for section, languages := range shared.Sections {
		switch {
		case slices.Contains(languages, "go") && slices.Contains(languages, "python"):
			both = append(both, section)
			read = append(read, section)
		case slices.Contains(languages, "go"):
			read = append(read, section)
		default:
			python = append(python, section)
		}
	}
	slices.Sort(read)
	slices.Sort(python)
	if got := sortedKeys(DeclaredKeys()); !slices.Equal(got, read) {
		t.Errorf("searchapi reads %v, the shared cases say %v", got, read)
	}
	if got := slices.Sorted(slices.Values(PythonSections)); !slices.Equal(got, python) {
		t.Errorf("searchapi ignores %v, the shared cases say the Python services alone read %v", got, python)
	}
	if got := sortedKeys(shared.Keys); !slices.Equal(got, slices.Sorted(slices.Values(both))) {
		t.Errorf("keys are given for %v, want every section both read: %v", got, both)
	}
	for section, keys := range shared.Keys {
		if got := DeclaredKeys()[section]; !slices.Equal(got, slices.Sorted(slices.Values(keys))) {
			t.Errorf("%s: searchapi declares %v, the shared cases say %v", section, got, keys)
		}
	}
}
