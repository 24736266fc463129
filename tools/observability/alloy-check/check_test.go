package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The repository's configs must pass: this is what `make check-observability` relies on.
// compose.alloy is under conf/observability; kubernetes.alloy is the Helm chart's file.
func TestRepositoryConfigs(t *testing.T) {
	var files []string
	for _, pattern := range []string{
		"../../../conf/observability/alloy/*.alloy",
		"../../../helm/sluice/files/alloy/*.alloy",
	} {
		found, err := filepath.Glob(pattern)
		if err != nil || len(found) == 0 {
			t.Fatalf("no .alloy files match %s (%v)", pattern, err)
		}
		files = append(files, found...)
	}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range Check(name, src) {
			t.Errorf("%v", err)
		}
	}
}

const valid = `
discovery.docker "c" {
  host = "unix:///var/run/docker.sock"
}
loki.source.docker "c" {
  host       = "unix:///var/run/docker.sock"
  targets    = discovery.docker.c.targets
  forward_to = [loki.write.l.receiver]
}
loki.write "l" {
  endpoint {
    url = sys.env("LOKI_PUSH_URL")
  }
}
`

// Each broken config must fail with a message naming the problem.
func TestCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, src, want string
	}{
		{"valid", valid, ""},
		{"syntax error", strings.Replace(valid, `host       = "unix`, `host = = "unix`, 1), "expected"},
		{"unclosed block", strings.TrimSuffix(strings.TrimSpace(valid), "}"), "expected"},
		{"undeclared component", strings.Replace(valid, "loki.write.l.receiver", "loki.write.x.receiver", 1), `undeclared loki.write "x"`},
		{"unknown export", strings.Replace(valid, "discovery.docker.c.targets", "discovery.docker.c.output", 1), `exports no field "output"`},
		{"unknown component", strings.Replace(valid, `loki.write "l"`, `loki.writer "l"`, 1), `unknown component "loki.writer"`},
		{"missing label", strings.Replace(valid, `discovery.docker "c"`, `discovery.docker`, 1), "needs a label"},
		{"not a component reference", strings.Replace(valid, "discovery.docker.c.targets", "foo.bar", 1), "foo.bar is not a reference"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := Check("test.alloy", []byte(tc.src))
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("want no errors, got %v", errs)
				}
				return
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
			}
			t.Fatalf("want an error containing %q, got %v", tc.want, errs)
		})
	}
}
