// Package knativevalidate runs Knative's own admission checks on Sluice's manifests, offline.
//
// Every Knative Service, Broker, Trigger and SinkBinding found in the manifest folders is
// decoded strictly into the knative.dev/serving and knative.dev/eventing Go types, defaulted with
// SetDefaults and checked with Validate: the code Knative's webhooks run on `kubectl apply`, with
// the configuration a fresh install has (its config-defaults and config-features ConfigMaps ship
// only `_example` keys, so the built-in defaults apply). A JSON Schema check (kubeconform) cannot
// see these rules: min-scale below max-scale, containerConcurrency bounds, the fields Knative
// allows in a pod spec without a feature flag, a Trigger's subscriber, ISO-8601 backoff delays.
//
// Folders come from SLUICE_MANIFEST_DIRS (separated by ':'; relative paths are relative to the
// repository root), default "knative". The test fails if it finds no Knative object at all.
package knativevalidate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	eventingconfig "knative.dev/eventing/pkg/apis/config"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/pkg/apis"
	servingconfig "knative.dev/serving/pkg/apis/config"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"
)

// repoRoot is where relative manifest paths start: this package is tools/deploy/knative-validate.
const repoRoot = "../../.."

// knativeObject is what the webhooks call on a resource: defaulting, then validation.
type knativeObject interface {
	apis.Defaultable
	apis.Validatable
	GetNamespace() string
	SetNamespace(namespace string)
}

// requestNamespace stands in for `kubectl apply -n`: a namespace-agnostic object (the Helm
// chart's) gets its namespace from the request before any admission webhook sees it.
const requestNamespace = "sluice"

// newObject returns an empty Go value for a Knative kind, or nil for any other kind.
func newObject(apiVersion, kind string) knativeObject {
	switch apiVersion + "/" + kind {
	case "serving.knative.dev/v1/Service":
		return &servingv1.Service{}
	case "eventing.knative.dev/v1/Broker":
		return &eventingv1.Broker{}
	case "eventing.knative.dev/v1/Trigger":
		return &eventingv1.Trigger{}
	case "sources.knative.dev/v1/SinkBinding":
		return &sourcesv1.SinkBinding{}
	}
	return nil
}

// webhookContext is the context the webhooks hand to SetDefaults and Validate for a create:
// serving's and eventing's configuration stores and eventing's feature flags, all at their
// defaults, inside apis.WithinCreate.
func webhookContext(t *testing.T) context.Context {
	t.Helper()
	ctx := context.Background()
	ctx = servingconfig.ToContext(ctx, servingconfig.FromContextOrDefaults(ctx))
	ctx = eventingconfig.ToContext(ctx, eventingconfig.FromContextOrDefaults(ctx))
	flags, err := feature.NewFlagsConfigFromMap(map[string]string{})
	if err != nil {
		t.Fatalf("eventing feature defaults: %v", err)
	}
	ctx = feature.ToContext(ctx, flags)
	return apis.WithinCreate(ctx)
}

// manifestFiles lists the YAML files under each folder of SLUICE_MANIFEST_DIRS.
func manifestFiles(t *testing.T) []string {
	t.Helper()
	dirs := os.Getenv("SLUICE_MANIFEST_DIRS")
	if dirs == "" {
		dirs = "knative"
	}
	var files []string
	for _, dir := range strings.Split(dirs, ":") {
		if dir == "" {
			continue
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(repoRoot, dir)
		}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("manifest folder %s: %v", dir, err)
		}
	}
	return files
}

// displayPath names a file relative to the repository when it lies inside it.
func displayPath(path string) string {
	root, errRoot := filepath.Abs(repoRoot)
	abs, errPath := filepath.Abs(path)
	if errRoot != nil || errPath != nil {
		return path
	}
	if rel, err := filepath.Rel(root, abs); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return abs
}

// documents splits a multi-document YAML file; empty documents (comments only) are dropped.
func documents(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var probe map[string]any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(probe) > 0 {
			docs = append(docs, doc)
		}
	}
}

func TestKnativeWebhookValidation(t *testing.T) {
	ctx := webhookContext(t)
	checked := 0
	for _, path := range manifestFiles(t) {
		for _, doc := range documents(t, path) {
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			obj := newObject(meta.APIVersion, meta.Kind)
			if obj == nil {
				continue
			}
			checked++
			t.Run(displayPath(path)+"/"+meta.Kind+"/"+meta.Metadata.Name, func(t *testing.T) {
				// Strict: a field the Go type does not have is an error, not silently dropped.
				if err := yaml.UnmarshalStrict(doc, obj); err != nil {
					t.Fatalf("decode: %v", err)
				}
				if obj.GetNamespace() == "" {
					obj.SetNamespace(requestNamespace)
				}
				obj.SetDefaults(ctx)
				result := obj.Validate(ctx)
				if warnings := result.Filter(apis.WarningLevel); warnings != nil {
					t.Logf("warning: %v", warnings)
				}
				if errs := result.Filter(apis.ErrorLevel); errs != nil {
					t.Errorf("Knative rejects it: %v", errs)
				}
			})
		}
	}
	if checked == 0 {
		t.Fatal("no Knative Service, Broker, Trigger or SinkBinding found: check SLUICE_MANIFEST_DIRS")
	}
	t.Logf("%d Knative objects validated", checked)
}
