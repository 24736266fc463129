package search

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Milvus filters are a query language without bound parameters (in milvus-lite), so a filter
// is built only from whitelisted fields and validated, quoted values, and the user's part is
// always parenthesised under the tenant clause.

var (
	metadataKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	// tenantName is what a tenant name looks like (as the pipeline enforces).
	tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	// documentID is what a document id looks like (as the pipeline enforces).
	documentID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~:@+-]{0,255}$`)
	// anyText takes any string (without control characters, checked for every value): a
	// field that holds only strings, such as section.
	anyText = regexp.MustCompile(`^.+$`)
)

const (
	maxListValues = 100
	maxValueChars = 1024
	maxPage       = 1_000_000
)

// ValidTenant says whether name is a tenant name.
func ValidTenant(name string) bool { return tenantName.MatchString(name) }

// Scope is what a search or a count may see: one tenant's chunks, narrowed by a filter. Only
// this package builds one, from validated parts, so a store never gets user text to splice
// into an expression.
type Scope struct {
	tenant     string
	expr       string
	collection string // the physical collection to read ("": the alias's, when read)
}

// Collection is the physical collection the scope reads ("": the one the alias names).
func (s Scope) Collection() string { return s.collection }

// In is the scope read from one collection (the one a search resolved once, for all its
// calls).
func (s Scope) In(c Collection) Scope {
	s.collection = c.Name
	return s
}

// Tenant is the tenant whose chunks the scope holds.
func (s Scope) Tenant() string { return s.tenant }

// Expression is the scope as a Milvus boolean expression.
func (s Scope) Expression() string { return s.expr }

// newScope is all of the tenant's chunks.
func newScope(tenant string) (Scope, error) {
	if !ValidTenant(tenant) {
		return Scope{}, invalid("invalid_tenant", "tenant %q is not a valid tenant name", tenant)
	}
	return Scope{tenant: tenant, expr: "tenant == " + quote(tenant)}, nil
}

// and narrows the scope to the chunks that also satisfy every clause (valid expressions).
func (s Scope) and(clauses ...string) Scope {
	if len(clauses) > 0 {
		s.expr += " and (" + strings.Join(clauses, " and ") + ")"
	}
	return s
}

// documentScope is the chunks of one of a tenant's documents.
func documentScope(tenant, id string) (Scope, error) {
	if !documentID.MatchString(id) {
		return Scope{}, invalid("invalid_id", "%q is not a valid document id", id)
	}
	scope, err := newScope(tenant)
	if err != nil {
		return Scope{}, err
	}
	return scope.and("doc_id == " + quote(id)), nil
}

// Filter restricts a search to the chunks that match: a JSON object of the grammar in
// filter.go (a request's "filter"), and the query parameters of a GET (FilterFromQuery). The
// fields are the original shape (equality or any-of on metadata, document, page, section),
// kept for callers that build a filter in Go; everything in a filter is ANDed.
type Filter struct {
	// Metadata maps a key to a condition: a value (string, number, boolean), a list of them
	// ("any of") or an object of operators.
	Metadata map[string]json.RawMessage `json:"metadata,omitempty"`
	// DocumentID is one document id or a list of them (or an object of operators).
	DocumentID json.RawMessage `json:"document_id,omitempty"`
	// Page is a page number or a list of them: chunks on that page (or any of them).
	Page json.RawMessage `json:"page,omitempty"`
	// Section is a heading path ("Install > Linux") or a list of them, matched exactly.
	Section json.RawMessage `json:"section,omitempty"`

	// objects are filter objects as sent (JSON, checked when the scope is built).
	objects []json.RawMessage
}

// UnmarshalJSON keeps the filter as sent: Scope checks it, so that every mistake is an
// invalid_filter naming where it is. null is no filter.
func (f *Filter) UnmarshalJSON(data []byte) error {
	*f = Filter{}
	if string(bytes.TrimSpace(data)) != "null" {
		f.objects = []json.RawMessage{bytes.Clone(data)}
	}
	return nil
}

// MarshalJSON writes the filter as one JSON object.
func (f Filter) MarshalJSON() ([]byte, error) {
	parts, err := f.parts()
	switch {
	case err != nil:
		return nil, err
	case len(parts) == 0:
		return []byte("{}"), nil
	case len(parts) == 1:
		return parts[0], nil
	}
	return json.Marshal(map[string][]json.RawMessage{"and": parts})
}

// parts are the filter's objects, the fields as one.
func (f Filter) parts() ([]json.RawMessage, error) {
	parts := f.objects
	if len(f.Metadata) > 0 || len(f.DocumentID) > 0 || len(f.Page) > 0 || len(f.Section) > 0 {
		fields, err := json.Marshal(struct {
			Metadata   map[string]json.RawMessage `json:"metadata,omitempty"`
			DocumentID json.RawMessage            `json:"document_id,omitempty"`
			Page       json.RawMessage            `json:"page,omitempty"`
			Section    json.RawMessage            `json:"section,omitempty"`
		}{f.Metadata, f.DocumentID, f.Page, f.Section})
		if err != nil {
			return nil, invalid("invalid_filter", "filter: not valid JSON: %v", err)
		}
		parts = append([]json.RawMessage{fields}, parts...)
	}
	return parts, nil
}

// Scope is the tenant's chunks that match the filter, or a *Error saying what is wrong.
func (f Filter) Scope(tenant string) (Scope, error) {
	scope, err := newScope(tenant) // checked first: a bad tenant is the worse mistake
	if err != nil {
		return Scope{}, err
	}
	parts, err := f.parts()
	if err != nil {
		return Scope{}, err
	}
	var b filterBuilder
	var clauses []string
	for _, part := range parts {
		more, err := b.object(part, "filter", 0, false)
		if err != nil {
			return Scope{}, err
		}
		clauses = append(clauses, more...)
	}
	return scope.and(clauses...), nil
}

// MaxFilterParamChars bounds a GET search's filter parameter.
const MaxFilterParamChars = 4096

// FilterFromQuery is the filter that a GET search's query parameters give (others are
// ignored): filter=<a JSON filter>, filter.<key>=<value> (eq), filter.<key>.<op>=<value>, and
// filter.metadata.<key>[.<op>]=<value> for a metadata key named like an own field or an
// operator. A value that is a JSON number, true, false or "a quoted string" is that, anything
// else is a string (always a string for document_id, section and updated_at); in and nin take
// a comma-separated list ("quoted" items may hold commas); exists takes true or false. All are
// ANDed.
func FilterFromQuery(values url.Values) (Filter, error) {
	var f Filter
	object := map[string]map[string]json.RawMessage{}
	metadata := map[string]map[string]json.RawMessage{}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		given := values[name]
		if name != "filter" && !strings.HasPrefix(name, "filter.") {
			continue
		}
		if !utf8.ValidString(name) {
			return Filter{}, invalid("invalid_filter", "%q: not valid UTF-8", name)
		}
		if len(given) != 1 {
			return Filter{}, invalid("invalid_filter", "%s: given %d times; give it once (in and nin take lists)", name, len(given))
		}
		value := given[0]
		if !utf8.ValidString(value) {
			return Filter{}, invalid("invalid_filter", "%s: the value is not valid UTF-8", name)
		}
		if name == "filter" {
			// a URL carries simple filters: a longer one belongs in a POST body (and would
			// soon pass the 64 KiB of request line and headers the server reads)
			if n := utf8.RuneCountInString(value); n > MaxFilterParamChars {
				return Filter{}, invalid("invalid_filter", "filter: %d characters; a GET takes at most %d (POST a longer filter)", n, MaxFilterParamChars)
			}
			if !json.Valid([]byte(value)) || jsonKind([]byte(value)) != '{' {
				return Filter{}, invalid("invalid_filter", "filter: expected a JSON object")
			}
			f.objects = append(f.objects, json.RawMessage(value))
			continue
		}
		explicit, key, op, err := filterParam(name)
		if err != nil {
			return Filter{}, err
		}
		raw, err := filterParamValue(name, key, op, value, explicit)
		if err != nil {
			return Filter{}, err
		}
		into := object
		if explicit {
			into = metadata
		}
		if into[key] == nil {
			into[key] = map[string]json.RawMessage{}
		}
		into[key][op] = raw
		if len(into[key]["="]) > 0 && len(into[key]["eq"]) > 0 {
			return Filter{}, invalid("invalid_filter", "%s: eq is given twice (%s is eq too)", name, strings.TrimSuffix(name, "."+op))
		}
	}
	if len(object) > 0 || len(metadata) > 0 {
		top := map[string]any{}
		for key, ops := range object {
			top[key] = paramCondition(ops)
		}
		if len(metadata) > 0 {
			keys := map[string]any{}
			for key, ops := range metadata {
				keys[key] = paramCondition(ops)
			}
			top["metadata"] = keys
		}
		raw, err := json.Marshal(top)
		if err != nil {
			return Filter{}, invalid("invalid_filter", "filter: %v", err)
		}
		f.objects = append(f.objects, raw)
	}
	return f, nil
}

// filterParam splits filter.<key>[.<op>] or filter.metadata.<key>[.<op>] (explicit); op is
// "=" when not given.
func filterParam(name string) (explicit bool, key, op string, err error) {
	parts := strings.Split(strings.TrimPrefix(name, "filter."), ".")
	if parts[0] == "metadata" {
		explicit, parts = true, parts[1:]
	}
	if len(parts) == 0 || len(parts) > 2 || !metadataKey.MatchString(parts[0]) && (explicit || !slices.Contains(filterFields, parts[0])) {
		return false, "", "", invalid("invalid_filter",
			"%s: not a filter parameter: filter.<key>, filter.<key>.<op> or filter.metadata.<key>[.<op>], a key matching %s",
			name, metadataKey)
	}
	if !explicit && (parts[0] == "and" || parts[0] == "or" || parts[0] == "not") {
		return false, "", "", invalid("invalid_filter", "%s: and, or and not need the filter parameter (a JSON filter)", name)
	}
	op = "="
	if len(parts) == 2 {
		op = parts[1]
		if !slices.Contains(filterOperators, op) {
			return false, "", "", invalid("invalid_filter", "%s: unknown operator %q (one of %s)", name, op, strings.Join(filterOperators, ", "))
		}
	}
	return explicit, parts[0], op, nil
}

// filterParamValue is the JSON of a parameter's value; explicit says whether key is a metadata
// key named as filter.metadata.<key> (document_id, section and updated_at hold strings).
func filterParamValue(name, key, op, value string, explicit bool) (json.RawMessage, error) {
	text := !explicit && (key == "document_id" || key == "section" || key == "updated_at")
	typed := func(item string) json.RawMessage {
		if !text {
			if item != "" && item == strings.TrimSpace(item) && json.Valid([]byte(item)) && strings.IndexByte("{[n", item[0]) < 0 {
				return json.RawMessage(item)
			}
		} else if jsonKind([]byte(item)) == '"' {
			var unquoted string
			if json.Unmarshal([]byte(item), &unquoted) == nil {
				item = unquoted
			}
		}
		raw, _ := json.Marshal(item)
		return raw
	}
	switch op {
	case "exists":
		if value != "true" && value != "false" {
			return nil, invalid("invalid_filter", "%s: exists takes true or false, not %q", name, value)
		}
		return json.RawMessage(value), nil
	case "in", "nin":
		if value == "" {
			return nil, invalid("invalid_filter", "%s: needs a comma-separated list of values", name)
		}
		items := splitParamList(value)
		list := make([]json.RawMessage, len(items))
		for i, item := range items {
			list[i] = typed(item)
		}
		return json.Marshal(list)
	}
	return typed(value), nil
}

// splitParamList splits a comma-separated list, keeping commas inside "quoted" items.
func splitParamList(value string) []string {
	var items []string
	start, quoted, escaped := 0, false, false
	for i, r := range value {
		switch {
		case escaped:
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			items = append(items, value[start:i])
			start = i + 1
		}
	}
	return append(items, value[start:])
}

// paramCondition is a parameter key's operators as a condition: the plain value alone when it is
// the only one.
func paramCondition(ops map[string]json.RawMessage) any {
	if value, plain := ops["="]; plain && len(ops) == 1 {
		return value
	}
	if value, plain := ops["="]; plain {
		delete(ops, "=")
		ops["eq"] = value
	}
	return ops
}

// quote makes a double-quoted Milvus string literal, escaping backslashes and quotes (values
// with control characters are refused before they get here).
func quote(value string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`
}

func hasControl(value string) bool {
	return strings.ContainsFunc(value, unicode.IsControl)
}
