package search

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// buildFilter is the user part of acme's scope for a JSON filter (the scope without
// `tenant == "acme" and (…)`), or the error.
func buildFilter(t *testing.T, filter string) (string, error) {
	t.Helper()
	var f Filter
	if err := json.Unmarshal([]byte(filter), &f); err != nil {
		t.Fatalf("%s is not JSON: %v", filter, err)
	}
	return userPart(t, f)
}

func userPart(t *testing.T, f Filter) (string, error) {
	t.Helper()
	scope, err := f.Scope("acme")
	if err != nil {
		return "", err
	}
	expr := scope.Expression()
	if expr == `tenant == "acme"` {
		return "", nil
	}
	const prefix = `tenant == "acme" and (`
	if !strings.HasPrefix(expr, prefix) || !strings.HasSuffix(expr, ")") {
		t.Fatalf("%q is not the tenant clause and a parenthesised part", expr)
	}
	return expr[len(prefix) : len(expr)-1], nil
}

// nested is the filter inside n "and"s.
func nested(n int, filter string) string {
	for range n {
		filter = `{"and": [` + filter + `]}`
	}
	return filter
}

func TestFilterExpressions(t *testing.T) {
	t.Parallel()
	const year, lang = `metadata["year"]`, `metadata["lang"]`
	cases := []struct{ name, filter, want string }{
		{"no filter", `{}`, ``},
		{"null is no filter", `null`, ``},
		{"null metadata is none", `{"metadata": null, "lang": "en"}`, `metadata["lang"] == "en"`},
		{"the issue's example", `{"and": [{"year": {"gte": 2020}}, {"lang": {"in": ["en", "de"]}}]}`,
			year + ` >= 2020 and (` + lang + ` == "en" or ` + lang + ` == "de")`},
		{"shorthand equals metadata", `{"metadata": {"year": {"gte": 2020}}}`, year + ` >= 2020`},
		{"a metadata key named like an operator or a field", `{"metadata": {"and": 1, "page": "x", "gte": true}}`,
			`metadata["and"] == 1 and metadata["gte"] == true and metadata["page"] == "x"`},
		{"tenant is a metadata key", `{"or": [{"tenant": "other"}, {"tenant": {"ne": "acme"}}]}`,
			`(metadata["tenant"] == "other" or (not (exists metadata["tenant"]) or metadata["tenant"] != "acme"))`},

		// Every operator on metadata.
		{"eq scalar", `{"lang": "en"}`, lang + ` == "en"`},
		{"eq", `{"lang": {"eq": "en"}}`, lang + ` == "en"`},
		{"eq number", `{"year": 2020}`, year + ` == 2020`},
		{"eq float", `{"year": 2020.50}`, year + ` == 2020.5`},
		{"eq negative", `{"year": -3}`, year + ` == -3`},
		{"eq exponent", `{"year": 1.5E7}`, year + ` == 1.5e+07`},
		{"eq large float", `{"year": 123456789.0}`, year + ` == 1.23456789e+08`},
		{"eq underflow is zero", `{"year": 1e-400}`, year + ` == 0`},
		{"eq bool", `{"draft": false}`, `metadata["draft"] == false`},
		{"eq empty string", `{"lang": ""}`, lang + ` == ""`},
		{"eq int64 max", `{"n": 9223372036854775807}`, `metadata["n"] == 9223372036854775807`},
		{"ne: missing or different", `{"lang": {"ne": "en"}}`, `(not (exists ` + lang + `) or ` + lang + ` != "en")`},
		{"in list", `{"lang": ["en", "de"]}`, `(` + lang + ` == "en" or ` + lang + ` == "de")`},
		{"in", `{"lang": {"in": ["en"]}}`, lang + ` == "en"`},
		{"in mixed types", `{"year": {"in": [2020, "2020"]}}`, `(` + year + ` == 2020 or ` + year + ` == "2020")`},
		{"nin", `{"lang": {"nin": ["en", "de"]}}`,
			`(not (exists ` + lang + `) or (` + lang + ` != "en" and ` + lang + ` != "de"))`},
		{"gt", `{"year": {"gt": 2020}}`, year + ` > 2020`},
		{"gte", `{"year": {"gte": 2020}}`, year + ` >= 2020`},
		{"lt", `{"year": {"lt": 2020}}`, year + ` < 2020`},
		{"lte", `{"year": {"lte": 2020.5}}`, year + ` <= 2020.5`},
		{"a range", `{"year": {"lt": 2030, "gte": 2020}}`, year + ` >= 2020 and ` + year + ` < 2030`},
		{"exists", `{"lang": {"exists": true}}`, `(exists ` + lang + `)`},
		{"exists false", `{"lang": {"exists": false}}`, `not (exists ` + lang + `)`},
		{"every operator at once", `{"year": {"exists": true, "lte": 9, "lt": 8, "gte": 1, "gt": 0, "nin": [5], "in": [3, 4], "ne": 6, "eq": 3}}`,
			year + ` == 3 and (not (exists ` + year + `) or ` + year + ` != 6) and (` + year + ` == 3 or ` + year + ` == 4) and ` +
				`(not (exists ` + year + `) or ` + year + ` != 5) and ` + year + ` > 0 and ` + year + ` >= 1 and ` +
				year + ` < 8 and ` + year + ` <= 9 and (exists ` + year + `)`},

		// Strings are escaped, not interpreted.
		{"quotes", `{"k": "x\" or tenant != \"zzz"}`, `metadata["k"] == "x\" or tenant != \"zzz"`},
		{"backslash before a quote", `{"k": "a\\\" or 1 == 1 or \"\\"}`, `metadata["k"] == "a\\\" or 1 == 1 or \"\\"`},
		{"parentheses in a value", `{"k": ") or (true"}`, `metadata["k"] == ") or (true"`},
		{"unicode", `{"k": "日本 ünï"}`, `metadata["k"] == "日本 ünï"`},

		// Own fields.
		{"document_id", `{"document_id": "a.b_c~d:e@f+g-h"}`, `doc_id == "a.b_c~d:e@f+g-h"`},
		{"document_id ne", `{"document_id": {"ne": "a"}}`, `doc_id != "a"`},
		{"document_id in", `{"document_id": {"in": ["a", "b"]}}`, `(doc_id == "a" or doc_id == "b")`},
		{"document_id nin", `{"document_id": {"nin": ["a", "b"]}}`, `(doc_id != "a" and doc_id != "b")`},
		{"section", `{"section": "Install > \"Linux\""}`, `section == "Install > \"Linux\""`},
		{"section ne", `{"section": {"ne": "A"}}`, `section != "A"`},
		{"section nin", `{"section": {"nin": ["A", "B"]}}`, `(section != "A" and section != "B")`},
		{"section exists", `{"section": {"exists": true}}`, `section != ""`},
		{"section exists false", `{"section": {"exists": false}}`, `section == ""`},
		{"page: chunks whose pages include it", `{"page": 3}`, `(page <= 3 and page_end >= 3)`},
		{"page ne: the others, and those without pages", `{"page": {"ne": 3}}`, `(page > 3 or page_end < 3)`},
		{"page in", `{"page": {"in": [1, 4]}}`, `((page <= 1 and page_end >= 1) or (page <= 4 and page_end >= 4))`},
		{"page nin", `{"page": {"nin": [1, 4]}}`, `((page > 1 or page_end < 1) and (page > 4 or page_end < 4))`},
		{"page gt: some page after", `{"page": {"gt": 3}}`, `page_end > 3`},
		{"page gte", `{"page": {"gte": 3}}`, `page_end >= 3`},
		{"page lt: some page before", `{"page": {"lt": 3}}`, `(page >= 1 and page < 3)`},
		{"page lte", `{"page": {"lte": 3}}`, `(page >= 1 and page <= 3)`},
		{"pages 3 to 5: chunks overlapping them", `{"page": {"gte": 3, "lte": 5}}`, `page_end >= 3 and (page >= 1 and page <= 5)`},
		{"page exists", `{"page": {"exists": true}}`, `page >= 1`},
		{"page exists false", `{"page": {"exists": false}}`, `page < 1`},
		{"updated_at", `{"updated_at": "2024-05-01T12:00:00Z"}`, `created_at == 1714564800000`},
		{"updated_at with an offset", `{"updated_at": {"gte": "2024-05-01T14:00:00+02:00"}}`, `created_at >= 1714564800000`},
		{"updated_at to the millisecond", `{"updated_at": {"lt": "2024-05-01T12:00:00.123999Z"}}`, `created_at < 1714564800123`},
		{"updated_at range", `{"updated_at": {"gt": "2024-01-01T00:00:00Z", "lte": "2025-01-01T00:00:00Z"}}`,
			`created_at > 1704067200000 and created_at <= 1735689600000`},
		{"updated_at ne", `{"updated_at": {"ne": "1970-01-01T00:00:00Z"}}`, `created_at != 0`},
		{"updated_at nin", `{"updated_at": {"nin": ["1970-01-01T00:00:00Z", "1969-12-31T23:59:59.9995Z"]}}`,
			`(created_at != 0 and created_at != -1)`},

		// and, or, not; negations pushed down to the leaves.
		{"keys are ANDed", `{"lang": "en", "year": 2020, "page": 2}`,
			lang + ` == "en" and (page <= 2 and page_end >= 2) and ` + year + ` == 2020`},
		{"and flattens", `{"and": [{"lang": "en"}, {"and": [{"year": 1}, {"draft": true}]}]}`,
			lang + ` == "en" and ` + year + ` == 1 and metadata["draft"] == true`},
		{"or", `{"or": [{"lang": "en"}, {"year": 1, "draft": true}]}`,
			`(` + lang + ` == "en" or (metadata["draft"] == true and ` + year + ` == 1))`},
		{"or of one", `{"or": [{"lang": "en"}]}`, lang + ` == "en"`},
		{"not eq", `{"not": {"lang": "en"}}`, `(not (exists ` + lang + `) or ` + lang + ` != "en")`},
		{"not ne", `{"not": {"lang": {"ne": "en"}}}`, lang + ` == "en"`},
		{"not in", `{"not": {"lang": ["en", "de"]}}`,
			`(not (exists ` + lang + `) or (` + lang + ` != "en" and ` + lang + ` != "de"))`},
		{"not nin", `{"not": {"lang": {"nin": ["en", "de"]}}}`, `(` + lang + ` == "en" or ` + lang + ` == "de")`},
		{"not gte: missing or below", `{"not": {"year": {"gte": 2020}}}`, `(not (exists ` + year + `) or ` + year + ` < 2020)`},
		{"not gt", `{"not": {"year": {"gt": 2020}}}`, `(not (exists ` + year + `) or ` + year + ` <= 2020)`},
		{"not lt", `{"not": {"year": {"lt": 2020}}}`, `(not (exists ` + year + `) or ` + year + ` >= 2020)`},
		{"not lte", `{"not": {"year": {"lte": 2020}}}`, `(not (exists ` + year + `) or ` + year + ` > 2020)`},
		{"not exists", `{"not": {"year": {"exists": true}}}`, `not (exists ` + year + `)`},
		{"not a range: outside it", `{"not": {"year": {"gte": 2020, "lt": 2030}}}`,
			`((not (exists ` + year + `) or ` + year + ` < 2020) or (not (exists ` + year + `) or ` + year + ` >= 2030))`},
		{"not and: or of nots", `{"not": {"and": [{"lang": "en"}, {"document_id": "a"}]}}`,
			`((not (exists ` + lang + `) or ` + lang + ` != "en") or doc_id != "a")`},
		{"not or: and of nots", `{"not": {"or": [{"lang": "en"}, {"document_id": "a"}]}}`,
			`((not (exists ` + lang + `) or ` + lang + ` != "en") and doc_id != "a")`},
		{"not of several keys", `{"not": {"document_id": "a", "section": "S"}}`, `(doc_id != "a" or section != "S")`},
		{"not not", `{"not": {"not": {"lang": "en"}}}`, lang + ` == "en"`},
		{"not of own fields", `{"not": {"page": {"lt": 3}, "updated_at": {"gte": "1970-01-01T00:00:00.001Z"}, "section": {"exists": true}}}`,
			`((page < 1 or page >= 3) or section == "" or created_at < 1)`},
		{"not page gt", `{"not": {"page": {"gt": 3}}}`, `page_end <= 3`},
		{"not page lte", `{"not": {"page": {"lte": 3}}}`, `(page < 1 or page > 3)`},
		{"not page exists", `{"not": {"page": {"exists": true}}}`, `page < 1`},
		{"not, and, or", `{"not": {"or": [{"and": [{"a": 1}, {"b": 2}]}, {"not": {"c": 3}}]}}`,
			`(((not (exists metadata["a"]) or metadata["a"] != 1) or (not (exists metadata["b"]) or metadata["b"] != 2)) and metadata["c"] == 3)`},
		{"nesting to the limit", nested(maxFilterDepth, `{"a": 1}`), `metadata["a"] == 1`},
		{"a list of the most values", `{"a": [` + strings.Repeat(`1, `, maxListValues-1) + `1]}`,
			`(` + strings.Repeat(`metadata["a"] == 1 or `, maxListValues-1) + `metadata["a"] == 1)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := buildFilter(t, tc.filter)
			if err != nil || got != tc.want {
				t.Fatalf("%s\n got %s (%v)\nwant %s", tc.filter, got, err, tc.want)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, filter, message string }{
		{"not an object", `[]`, "filter: a filter is a JSON object"},
		{"a string", `"lang"`, "filter: a filter is a JSON object"},
		{"a key twice", `{"a": 1, "a": 2}`, `filter: key "a" is given twice`},
		{"an unknown key", `{"a b": 1}`, `filter: unknown key "a b"`},
		{"a key too long", `{"` + strings.Repeat("k", 65) + `": 1}`, "filter: unknown key"},
		{"a bad metadata key", `{"metadata": {"a] or 1==1 or metadata[\"b": 1}}`, "filter.metadata: key"},
		{"metadata not an object", `{"metadata": ["a"]}`, "filter.metadata: expected an object of metadata keys"},
		{"and not a list", `{"and": {"a": 1}}`, "filter.and: expected a list of filters"},
		{"or empty", `{"or": []}`, "filter.or: an empty list"},
		{"an empty filter in or", `{"or": [{"a": 1}, {}]}`, "filter.or[1]: an empty filter"},
		{"an empty filter in and", `{"and": [{"metadata": {}}]}`, "filter.and[0]: an empty filter"},
		{"an empty not", `{"not": {}}`, "filter.not: an empty filter"},
		{"not of a list", `{"not": [{"a": 1}]}`, "filter.not: a filter is a JSON object"},
		{"a path through the lists", `{"and": [{"a": 1}, {"lang": {"in": "en"}}]}`, "filter.and[1].lang.in: expected a list of values"},
		{"an empty condition", `{"a": {}}`, "filter.a: an empty condition"},
		{"an unknown operator", `{"a": {"between": [1, 2]}}`, `filter.a: unknown operator "between"`},
		{"a nested metadata value", `{"metadata": {"a": {"nested": 1}}}`, `filter.metadata.a: unknown operator "nested"`},
		{"null", `{"a": null}`, "filter.a: null matches nothing"},
		{"null in an operator", `{"a": {"ne": null}}`, "filter.a.ne: null matches nothing"},
		{"null in a list", `{"a": [1, null]}`, "filter.a[1]: expected a string, number or boolean"},
		{"an empty list", `{"a": []}`, "filter.a: a list needs 1 to 100 values"},
		{"a long list", `{"a": [` + strings.Repeat(`1, `, maxListValues) + `1]}`, "filter.a: a list needs 1 to 100 values"},
		{"a list in eq", `{"a": {"eq": [1]}}`, "filter.a.eq: eq takes a string, number or boolean"},
		{"an object in ne", `{"a": {"ne": {"x": 1}}}`, "filter.a.ne: ne takes a string, number or boolean"},
		{"a list in a list", `{"a": [[1]]}`, "filter.a[0]: expected a string, number or boolean"},
		{"a range on a string", `{"lang": {"gt": "en"}}`, `filter.lang.gt: a range on metadata key "lang" needs a number, not the string "en"`},
		{"a range on a boolean", `{"draft": {"lte": true}}`, `filter.draft.lte: a range on metadata key "draft" needs a number, not a boolean`},
		{"a range on a list", `{"year": {"gte": [1]}}`, "filter.year.gte: expected a string, number or boolean"},
		{"beyond int64", `{"n": 9223372036854775808}`, "filter.n: 9223372036854775808 is beyond the 64-bit integers"},
		{"int64 min", `{"n": -9223372036854775808}`, "beyond the 64-bit integers"},
		{"beyond int64 in a range", `{"n": {"lt": -99999999999999999999}}`, "filter.n.lt: -99999999999999999999 is beyond"},
		{"a float that overflows", `{"n": {"gt": 1e400}}`, "filter.n.gt: 1e400 is beyond the 64-bit floating-point numbers"},
		{"a control character", `{"k": "a\nb"}`, `filter.k: "a\nb" is not an acceptable value`},
		{"a value too long", `{"k": "` + strings.Repeat("x", maxValueChars+1) + `"}`, "is not an acceptable value"},
		{"exists not a boolean", `{"k": {"exists": "yes"}}`, "filter.k.exists: exists takes true or false"},
		{"exists on document_id", `{"document_id": {"exists": true}}`, "filter.document_id.exists: every chunk has a document_id"},
		{"exists on updated_at", `{"updated_at": {"exists": false}}`, "filter.updated_at.exists: every chunk has a updated_at"},
		{"a document id with a quote", `{"document_id": "x' or 1==1"}`, `filter.document_id: the string "x' or 1==1" is not a valid document_id`},
		{"a document id as a number", `{"document_id": 42}`, "filter.document_id: the number 42 is not a valid document_id"},
		{"a range on document_id", `{"document_id": {"gt": "a"}}`, "filter.document_id.gt: document_id is a string"},
		{"a range on section", `{"section": {"lte": "b"}}`, "filter.section.lte: section is a string"},
		{"an empty section", `{"section": ""}`, `filter.section: the string "" is not a valid section`},
		{"section as a number", `{"section": 7}`, "filter.section: the number 7 is not a valid section"},
		{"page zero", `{"page": 0}`, "filter.page: 0 is not a page number (1 to 1000000)"},
		{"page as a string", `{"page": "3"}`, `filter.page: "3" is not a page number`},
		{"page with a fraction", `{"page": {"gte": 2.5}}`, "filter.page.gte: 2.5 is not a page number"},
		{"page beyond int64", `{"page": 99999999999999999999}`, "filter.page: 99999999999999999999 is not a page number"},
		{"page beyond the limit", `{"page": {"lt": 1000001}}`, "filter.page.lt: 1000001 is not a page number"},
		{"updated_at as a number", `{"updated_at": {"gte": 1714564800000}}`, "filter.updated_at.gte: 1714564800000 is not an RFC 3339 timestamp"},
		{"updated_at as a date", `{"updated_at": {"gte": "2024-05-01"}}`, `filter.updated_at.gte: "2024-05-01" is not an RFC 3339 timestamp`},
		{"too deep", nested(maxFilterDepth+1, `{"a": 1}`), "and/or/not are nested more than 8 deep (the limit)"},
		{"too deep with not", strings.Repeat(`{"not": `, maxFilterDepth+1) + `{"a": 1}` + strings.Repeat(`}`, maxFilterDepth+1),
			"filter" + strings.Repeat(".not", maxFilterDepth+1) + ": and/or/not are nested more than 8 deep"},
		{"too many conditions", manyConditions(maxFilterConditions + 1), "filter.or[100].k100: the filter has more than 100 conditions (the limit)"},
		{"too many keys, refused before they are all read", manyKeys(10000),
			"filter: more keys than a filter may have conditions (100)"},
		{"too many operators", `{"a": {"gt": 1, "lt": 2}, "or": [` + strings.TrimPrefix(manyConditions(maxFilterConditions-1), `{"or": [`),
			"the filter has more than 100 conditions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := buildFilter(t, tc.filter)
			var bad *Error
			if !errors.As(err, &bad) || bad.Code != "invalid_filter" || !strings.Contains(bad.Message, tc.message) {
				t.Fatalf("%s\n got %q, %v\nwant invalid_filter %q", shorten(tc.filter), got, err, tc.message)
			}
		})
	}
}

// manyConditions is an or of n conditions.
func manyConditions(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`{"k%d": %d}`, i, i)
	}
	return `{"or": [` + strings.Join(parts, ", ") + `]}`
}

// manyKeys is an object of n metadata keys.
func manyKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d": %d`, i, i)
	}
	return `{` + strings.Join(parts, ", ") + `}`
}

func TestFilterOfTheMostConditions(t *testing.T) {
	t.Parallel()
	got, err := buildFilter(t, manyConditions(maxFilterConditions))
	if err != nil || strings.Count(got, " == ") != maxFilterConditions {
		t.Fatalf("%d conditions: %v, %s", maxFilterConditions, err, shorten(got))
	}
}

func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func TestFilterThroughARequest(t *testing.T) {
	t.Parallel()
	var req Request
	if err := json.Unmarshal([]byte(`{"query": "q", "filter": {"year": {"gte": 2020}, "metadata": {"lang": "en"}}}`), &req); err != nil {
		t.Fatal(err)
	}
	got, err := userPart(t, req.Filter)
	if want := `metadata["lang"] == "en" and metadata["year"] >= 2020`; err != nil || got != want {
		t.Fatalf("got %s, %v; want %s", got, err, want)
	}
	// A filter that is not an object is refused when the scope is built, as invalid_filter.
	if err := json.Unmarshal([]byte(`{"query": "q", "filter": 5}`), &req); err != nil {
		t.Fatal(err)
	}
	if _, err := req.Filter.Scope("acme"); err == nil || !strings.Contains(err.Error(), "filter: a filter is a JSON object") {
		t.Fatalf("a number as a filter: %v", err)
	}
	// It marshals as one JSON object, fields and objects ANDed.
	f := Filter{DocumentID: json.RawMessage(`"a"`)}
	f.objects = append(f.objects, json.RawMessage(`{"b":1}`))
	raw, err := json.Marshal(f)
	if want := `{"and":[{"document_id":"a"},{"b":1}]}`; err != nil || string(raw) != want {
		t.Fatalf("marshalled %s, %v; want %s", raw, err, want)
	}
	var again Filter
	if err := json.Unmarshal(raw, &again); err != nil {
		t.Fatal(err)
	}
	first, err1 := userPart(t, f)
	second, err2 := userPart(t, again)
	if err1 != nil || err2 != nil || first != second || first != `doc_id == "a" and metadata["b"] == 1` {
		t.Fatalf("round trip: %s (%v) then %s (%v)", first, err1, second, err2)
	}
}

func TestFilterFromQuery(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, query, want, message string }{
		{name: "no filter", query: "q=x&k=3", want: ""},
		{name: "eq string", query: "filter.lang=en", want: `metadata["lang"] == "en"`},
		{name: "eq number", query: "filter.year=2020", want: `metadata["year"] == 2020`},
		{name: "eq quoted number is a string", query: `filter.year=%222020%22`, want: `metadata["year"] == "2020"`},
		{name: "eq bool", query: "filter.draft=false", want: `metadata["draft"] == false`},
		{name: "null is a string", query: "filter.v=null", want: `metadata["v"] == "null"`},
		{name: "not a JSON scalar is a string", query: "filter.v=1.2.3&filter.w=%20true&filter.x=%5B1%5D", want: `metadata["v"] == "1.2.3" and metadata["w"] == " true" and metadata["x"] == "[1]"`},
		{name: "an empty value", query: "filter.v=", want: `metadata["v"] == ""`},
		{name: "an operator", query: "filter.year.gte=2020&filter.year.lt=2030",
			want: `metadata["year"] >= 2020 and metadata["year"] < 2030`},
		{name: "ne", query: "filter.lang.ne=en", want: `(not (exists metadata["lang"]) or metadata["lang"] != "en")`},
		{name: "in", query: "filter.lang.in=en,de", want: `(metadata["lang"] == "en" or metadata["lang"] == "de")`},
		{name: "in with types and quoted commas", query: `filter.v.in=1,%22a,b%22,true,x,%22q%5C%22%22`,
			want: `(metadata["v"] == 1 or metadata["v"] == "a,b" or metadata["v"] == true or metadata["v"] == "x" or metadata["v"] == "q\"")`},
		{name: "nin", query: "filter.lang.nin=en", want: `(not (exists metadata["lang"]) or metadata["lang"] != "en")`},
		{name: "exists", query: "filter.lang.exists=true&filter.draft.exists=false",
			want: `not (exists metadata["draft"]) and (exists metadata["lang"])`},
		{name: "eq with other operators", query: "filter.year=2020&filter.year.exists=true",
			want: `metadata["year"] == 2020 and (exists metadata["year"])`},
		{name: "explicit metadata", query: "filter.metadata.page=3&filter.metadata.and.ne=1",
			want: `(not (exists metadata["and"]) or metadata["and"] != 1) and metadata["page"] == 3`},
		{name: "document_id is a string", query: "filter.document_id=123&filter.section.in=%221%22,2",
			want: `doc_id == "123" and (section == "1" or section == "2")`},
		{name: "page", query: "filter.page.gte=3", want: `page_end >= 3`},
		{name: "updated_at", query: "filter.updated_at.lt=2024-01-01T00:00:00Z", want: `created_at < 1704067200000`},
		{name: "a JSON filter", query: `filter={"or":[{"a":1},{"b":2}]}`, want: `(metadata["a"] == 1 or metadata["b"] == 2)`},
		{name: "a JSON filter and parameters", query: `filter={"year":{"gt":1}}&filter.year.lt=5`,
			want: `metadata["year"] > 1 and metadata["year"] < 5`},
		{name: "a tenant parameter is not a filter", query: "tenant=other&filter.tenant=other",
			want: `metadata["tenant"] == "other"`},

		{name: "an unknown operator", query: "filter.year.between=1", message: `filter.year.between: unknown operator "between"`},
		{name: "too many parts", query: "filter.a.b.c=1", message: "filter.a.b.c: not a filter parameter"},
		{name: "no key", query: "filter.=1", message: "filter.: not a filter parameter"},
		{name: "a bad key", query: "filter.a-b=1", message: "filter.a-b: not a filter parameter"},
		{name: "metadata without a key", query: "filter.metadata=1", message: "filter.metadata: not a filter parameter"},
		{name: "metadata with a bad key", query: "filter.metadata.document-id=1", message: "filter.metadata.document-id: not a filter parameter"},
		{name: "and", query: "filter.and=1", message: "filter.and: and, or and not need the filter parameter"},
		{name: "twice", query: "filter.lang=en&filter.lang=de", message: "filter.lang: given 2 times"},
		{name: "eq twice", query: "filter.lang=en&filter.lang.eq=de", message: "filter.lang.eq: eq is given twice (filter.lang is eq too)"},
		{name: "exists not a boolean", query: "filter.lang.exists=1", message: `filter.lang.exists: exists takes true or false, not "1"`},
		{name: "an empty list", query: "filter.lang.in=", message: "filter.lang.in: needs a comma-separated list"},
		{name: "invalid UTF-8", query: "filter.lang=%ff", message: "filter.lang: the value is not valid UTF-8"},
		{name: "a JSON filter not an object", query: "filter=[1]", message: "filter: expected a JSON object"},
		{name: "a JSON filter not JSON", query: "filter={", message: "filter: expected a JSON object"},
		{name: "a range on a string", query: "filter.lang.gt=en", message: `filter.lang.gt: a range on metadata key "lang" needs a number`},
		{name: "beyond int64", query: "filter.n=99999999999999999999", message: "filter.n: 99999999999999999999 is beyond the 64-bit integers"},
		{name: "NaN is a string, not a number", query: "filter.n.gt=NaN", message: `filter.n.gt: a range on metadata key "n" needs a number, not the string "NaN"`},
		{name: "a list too long", query: "filter.a.in=" + strings.Repeat("1,", maxListValues) + "1", message: "filter.a.in: a list needs 1 to 100 values"},
		{name: "a bad page", query: "filter.page=x", message: `filter.page: "x" is not a page number`},
		{name: "a bad document id", query: "filter.document_id=a%20b", message: `filter.document_id: the string "a b" is not a valid document_id`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			values, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			f, err := FilterFromQuery(values)
			got := ""
			if err == nil {
				got, err = userPart(t, f)
			}
			if tc.message != "" {
				var bad *Error
				if !errors.As(err, &bad) || bad.Code != "invalid_filter" || !strings.Contains(bad.Message, tc.message) {
					t.Fatalf("%s: got %q, %v; want invalid_filter %q", tc.query, got, err, tc.message)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%s\n got %s (%v)\nwant %s", tc.query, got, err, tc.want)
			}
		})
	}
}

func TestAGetFilterIsBoundedInLength(t *testing.T) {
	t.Parallel()
	long := `{"k": "` + strings.Repeat("é", MaxFilterParamChars) + `"}`
	_, err := FilterFromQuery(url.Values{"filter": {long}})
	var bad *Error
	if !errors.As(err, &bad) || bad.Code != "invalid_filter" || !strings.Contains(bad.Message, "POST") {
		t.Fatalf("a %d-character filter parameter: %v", len([]rune(long)), err)
	}
	if _, err := FilterFromQuery(url.Values{"filter": {`{"k": "` + strings.Repeat("é", 100) + `"}`}}); err != nil {
		t.Fatal(err)
	}
}
