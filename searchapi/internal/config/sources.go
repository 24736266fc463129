package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

const (
	envPrefix    = "SLUICE_"
	envDelimiter = "__"
)

// envValue is a value from an environment variable: a string that the field it sets reads
// as its type (a number, a JSON mapping), as pydantic-settings does on the Python side.
type envValue string

// serviceLink matches what Kubernetes injects for a Service named sluice-<x> into every pod
// of its namespace (docker links style): SLUICE_<X>_SERVICE_HOST, SLUICE_<X>_PORT_9100_TCP,
// ... They are not settings (they have no "__"), and are ignored.
var serviceLink = regexp.MustCompile(
	`^SLUICE_[A-Z0-9_]+?_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_[A-Z]+)?)?)$`)

// Sections are every top-level section a configuration file or variable may name, sorted.
func Sections() []string {
	sections := append(slices.Clone(PythonSections), goSections()...)
	slices.Sort(sections)
	return sections
}

func knownSection(name string) bool { return slices.Contains(Sections(), name) }

// readDir merges the directory's *.yaml files in name order; each must be a mapping of
// known sections.
func readDir(dir string) (map[string]any, error) {
	merged := map[string]any{}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	slices.Sort(files)
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		tree := map[string]any{}
		if err := yaml.Unmarshal(data, &tree); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, file, err)
		}
		for section := range tree {
			if !knownSection(section) {
				return nil, fmt.Errorf("%w: %s: %s: no such section (sections: %s)",
					ErrInvalid, file, section, strings.Join(Sections(), ", "))
			}
		}
		merge(merged, tree)
	}
	return merged, nil
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
			set(tree, []string{"searchapi", "port"}, envValue(port))
		}
	}
}

// CLIVariables are the `sluice` command line's (its server URL and API key), not settings:
// an operator's shell may set them next to the services'.
var CLIVariables = []string{"SLUICE_URL", "SLUICE_API_KEY"}

// applyEnvironment sets SLUICE_A__B=value at path a.b (names are case-insensitive). A
// variable naming no section is an error; SLUICE_CONF_DIR, the command line's variables and
// service links are not settings.
func applyEnvironment(tree map[string]any, environ []string) error {
	for _, entry := range environ {
		name, value, found := strings.Cut(entry, "=")
		upper := strings.ToUpper(name)
		if !found || !strings.HasPrefix(upper, envPrefix) || upper == ConfDirVariable || slices.Contains(CLIVariables, upper) ||
			(!strings.Contains(upper, envDelimiter) && serviceLink.MatchString(upper)) {
			continue
		}
		path := strings.Split(strings.ToLower(strings.TrimPrefix(upper, envPrefix)), strings.ToLower(envDelimiter))
		if !knownSection(path[0]) {
			return fmt.Errorf("%w: environment variable %s: %s: no such section (sections: %s; nest with %q)",
				ErrInvalid, name, path[0], strings.Join(Sections(), ", "), envDelimiter)
		}
		set(tree, path, envValue(value))
	}
	return nil
}

// set puts value at path, making the mappings on the way (replacing what is not one).
func set(tree map[string]any, path []string, value any) {
	node := tree
	for _, part := range path[:len(path)-1] {
		child, ok := node[part].(map[string]any)
		if !ok {
			child = map[string]any{}
			node[part] = child
		}
		node = child
	}
	node[path[len(path)-1]] = value
}
