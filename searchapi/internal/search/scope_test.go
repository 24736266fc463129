package search

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestFilterScope(t *testing.T) {
	t.Parallel()
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	cases := []struct {
		name   string
		tenant string
		filter Filter
		want   string
		code   string
	}{
		{name: "tenant only", tenant: "acme", want: `tenant == "acme"`},
		{name: "metadata string", tenant: "acme",
			filter: Filter{Metadata: map[string]json.RawMessage{"lang": raw(`"en"`)}},
			want:   `tenant == "acme" and (metadata["lang"] == "en")`},
		{name: "metadata number and bool, keys sorted", tenant: "acme",
			filter: Filter{Metadata: map[string]json.RawMessage{"year": raw(`2024`), "draft": raw(`false`)}},
			want:   `tenant == "acme" and (metadata["draft"] == false and metadata["year"] == 2024)`},
		{name: "metadata any of", tenant: "acme",
			filter: Filter{Metadata: map[string]json.RawMessage{"lang": raw(`["en", "de"]`)}},
			want:   `tenant == "acme" and ((metadata["lang"] == "en" or metadata["lang"] == "de"))`},
		{name: "document ids", tenant: "acme",
			filter: Filter{DocumentID: raw(`["a", "b-2"]`)},
			want:   `tenant == "acme" and ((doc_id == "a" or doc_id == "b-2"))`},
		{name: "quotes are escaped, not interpreted", tenant: "acme",
			filter: Filter{Metadata: map[string]json.RawMessage{"k": raw(`"x\" or tenant != \"zzz"`)}},
			want:   `tenant == "acme" and (metadata["k"] == "x\" or tenant != \"zzz")`},
		{name: "backslashes are escaped", tenant: "acme",
			filter: Filter{Metadata: map[string]json.RawMessage{"k": raw(`"a\\b"`)}},
			want:   `tenant == "acme" and (metadata["k"] == "a\\b")`},
		{name: "bad key", tenant: "acme",
			filter: Filter{Metadata: map[string]json.RawMessage{"a] or 1==1 or metadata[\"b": raw(`1`)}},
			code:   "invalid_filter"},
		{name: "nested object", tenant: "acme",
			filter: Filter{Metadata: map[string]json.RawMessage{"k": raw(`{"a": 1}`)}}, code: "invalid_filter"},
		{name: "empty list", tenant: "acme",
			filter: Filter{Metadata: map[string]json.RawMessage{"k": raw(`[]`)}}, code: "invalid_filter"},
		{name: "control character", tenant: "acme",
			filter: Filter{Metadata: map[string]json.RawMessage{"k": raw(`"a\nb"`)}}, code: "invalid_filter"},
		{name: "document id with a quote", tenant: "acme",
			filter: Filter{DocumentID: raw(`"x' or 1==1"`)}, code: "invalid_filter"},
		{name: "document id as a number", tenant: "acme",
			filter: Filter{DocumentID: raw(`42`)}, code: "invalid_filter"},
		{name: "a page: chunks whose pages include it", tenant: "acme",
			filter: Filter{Page: raw(`3`)},
			want:   `tenant == "acme" and ((page <= 3 and page_end >= 3))`},
		{name: "pages any of", tenant: "acme",
			filter: Filter{Page: raw(`[1, 4]`)},
			want:   `tenant == "acme" and (((page <= 1 and page_end >= 1) or (page <= 4 and page_end >= 4)))`},
		{name: "a section, escaped", tenant: "acme",
			filter: Filter{Section: raw(`"Install > \"Linux\""`)},
			want:   `tenant == "acme" and (section == "Install > \"Linux\"")`},
		{name: "page zero", tenant: "acme", filter: Filter{Page: raw(`0`)}, code: "invalid_filter"},
		{name: "page as a string", tenant: "acme", filter: Filter{Page: raw(`"3"`)}, code: "invalid_filter"},
		{name: "page with a fraction", tenant: "acme", filter: Filter{Page: raw(`2.5`)}, code: "invalid_filter"},
		{name: "page beyond int64", tenant: "acme", filter: Filter{Page: raw(`99999999999999999999`)}, code: "invalid_filter"},
		{name: "no pages", tenant: "acme", filter: Filter{Page: raw(`[]`)}, code: "invalid_filter"},
		{name: "a null page", tenant: "acme", filter: Filter{Page: raw(`null`)}, code: "invalid_filter"},
		{name: "a null section", tenant: "acme", filter: Filter{Section: raw(` null`)}, code: "invalid_filter"},
		{name: "section as a number", tenant: "acme", filter: Filter{Section: raw(`7`)}, code: "invalid_filter"},
		{name: "page beyond the limit", tenant: "acme", filter: Filter{Page: raw(`1000001`)}, code: "invalid_filter"},
		{name: "a metadata number beyond int64", tenant: "acme",
			filter: Filter{Metadata: map[string]json.RawMessage{"n": raw(`99999999999999999999`)}}, code: "invalid_filter"},
		{name: "fields and metadata operators together", tenant: "acme",
			filter: Filter{Metadata: map[string]json.RawMessage{"year": raw(`{"gte": 2020}`)}, DocumentID: raw(`{"ne": "a"}`)},
			want:   `tenant == "acme" and (doc_id != "a" and metadata["year"] >= 2020)`},
		{name: "invalid JSON in a field", tenant: "acme", filter: Filter{Page: raw(`{`)}, code: "invalid_filter"},
		{name: "bad tenant", tenant: "Acme Corp", code: "invalid_tenant"},
		{name: "bad tenant before a bad filter", tenant: "Acme Corp", filter: Filter{Page: raw(`0`)}, code: "invalid_tenant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			scope, err := tc.filter.Scope(tc.tenant)
			got := scope.Expression()
			if tc.code != "" {
				var bad *Error
				if !errors.As(err, &bad) || bad.Code != tc.code {
					t.Fatalf("want error %s, got %q, %v", tc.code, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestDocumentScope(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, tenant, id string
		want             string
		code             string
	}{
		{name: "an id", tenant: "acme", id: "known", want: `tenant == "acme" and (doc_id == "known")`},
		{name: "every allowed character", tenant: "acme", id: "a.b_c~d:e@f+g-h",
			want: `tenant == "acme" and (doc_id == "a.b_c~d:e@f+g-h")`},
		{name: "a quote", tenant: "acme", id: `x" or doc_id != "y`, code: "invalid_id"},
		{name: "a space", tenant: "acme", id: "bad id", code: "invalid_id"},
		{name: "too long", tenant: "acme", id: strings.Repeat("a", 257), code: "invalid_id"},
		{name: "bad tenant", tenant: "Acme Corp", id: "known", code: "invalid_tenant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			scope, err := documentScope(tc.tenant, tc.id)
			if tc.code != "" {
				var bad *Error
				if !errors.As(err, &bad) || bad.Code != tc.code {
					t.Fatalf("want error %s, got %q, %v", tc.code, scope.Expression(), err)
				}
				return
			}
			if err != nil || scope.Expression() != tc.want || scope.Tenant() != tc.tenant {
				t.Fatalf("got %+v, %v; want %q", scope, err, tc.want)
			}
		})
	}
}

func TestScopeIn(t *testing.T) {
	t.Parallel()
	scope, err := Filter{DocumentID: json.RawMessage(`"a"`)}.Scope("acme")
	if err != nil {
		t.Fatal(err)
	}
	if scope.Collection() != "" {
		t.Fatalf("a new scope reads collection %q, want the alias's (\"\")", scope.Collection())
	}
	in := scope.In(Collection{Name: "sluice_chunks__v4_hashing_384"})
	if in.Collection() != "sluice_chunks__v4_hashing_384" || in.Tenant() != "acme" || in.Expression() != scope.Expression() {
		t.Fatalf("scope in a collection: %q, %q, %q", in.Collection(), in.Tenant(), in.Expression())
	}
	if scope.Collection() != "" {
		t.Fatal("In changed the scope it was called on")
	}
}
