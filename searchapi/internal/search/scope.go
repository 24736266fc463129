package search

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
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
	maxListValues   = 100
	maxMetadataKeys = 20
	maxValueChars   = 1024
	maxPage         = 1_000_000
)

// ValidTenant says whether name is a tenant name.
func ValidTenant(name string) bool { return tenantName.MatchString(name) }

// Scope is what a search or a count may see: one tenant's chunks, narrowed by a filter. Only
// this package builds one, from validated parts, so a store never gets user text to splice
// into an expression.
type Scope struct {
	tenant string
	expr   string
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

// Filter restricts a search to chunks whose metadata and document match.
type Filter struct {
	// Metadata maps a key to a value (string, number, boolean) or a list of them ("any of").
	Metadata map[string]json.RawMessage `json:"metadata,omitempty"`
	// DocumentID is one document id or a list of them.
	DocumentID json.RawMessage `json:"document_id,omitempty"`
	// Page is a page number or a list of them: chunks on that page (or any of them).
	Page json.RawMessage `json:"page,omitempty"`
	// Section is a heading path ("Install > Linux") or a list of them, matched exactly.
	Section json.RawMessage `json:"section,omitempty"`
}

// Scope is the tenant's chunks that match the filter, or a *Error saying what is wrong.
func (f Filter) Scope(tenant string) (Scope, error) {
	scope, err := newScope(tenant) // checked first: a bad tenant is the worse mistake
	if err != nil {
		return Scope{}, err
	}
	clauses, err := f.clauses()
	if err != nil {
		return Scope{}, err
	}
	return scope.and(clauses...), nil
}

func (f Filter) clauses() ([]string, error) {
	if len(f.Metadata) > maxMetadataKeys {
		return nil, invalid("invalid_filter", "filter.metadata: at most %d keys", maxMetadataKeys)
	}
	keys := make([]string, 0, len(f.Metadata))
	for key := range f.Metadata {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	var clauses []string
	for _, key := range keys {
		if !metadataKey.MatchString(key) {
			return nil, invalid("invalid_filter", "filter.metadata: key %q must match %s", key, metadataKey)
		}
		clause, err := comparison(fmt.Sprintf("metadata[%s]", quote(key)), f.Metadata[key], "filter.metadata."+key, nil)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, clause)
	}
	if len(f.DocumentID) > 0 {
		clause, err := comparison("doc_id", f.DocumentID, "filter.document_id", documentID)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, clause)
	}
	if len(f.Section) > 0 {
		clause, err := comparison("section", f.Section, "filter.section", anyText)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, clause)
	}
	if len(f.Page) > 0 {
		clause, err := pageClause(f.Page)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, clause)
	}
	return clauses, nil
}

// pageClause matches the chunks whose pages include the page (or any of the list's): a chunk
// of short pages spans page..page_end.
func pageClause(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", invalid("invalid_filter", "filter.page: null matches nothing; leave the key out")
	}
	var pages []json.RawMessage
	if err := json.Unmarshal(raw, &pages); err != nil {
		pages = []json.RawMessage{raw}
	} else if len(pages) == 0 || len(pages) > maxListValues {
		return "", invalid("invalid_filter", "filter.page: a list needs 1 to %d values", maxListValues)
	}
	alternatives := make([]string, len(pages))
	for i, item := range pages {
		var page int
		if err := json.Unmarshal(item, &page); err != nil || page < 1 || page > maxPage {
			return "", invalid("invalid_filter", "filter.page: %s is not a page number (1 to %d)", string(item), maxPage)
		}
		alternatives[i] = fmt.Sprintf("(page <= %d and page_end >= %d)", page, page)
	}
	return "(" + strings.Join(alternatives, " or ") + ")", nil
}

// comparison is `field == value` or `field in [values]` for a scalar or a list.
func comparison(field string, raw json.RawMessage, name string, pattern *regexp.Regexp) (string, error) {
	if isNull(raw) {
		return "", invalid("invalid_filter", "%s: null matches nothing; leave the key out", name)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err == nil {
		if len(list) == 0 || len(list) > maxListValues {
			return "", invalid("invalid_filter", "%s: a list needs 1 to %d values", name, maxListValues)
		}
		alternatives := make([]string, len(list))
		for i, item := range list {
			literal, err := literalOf(item, name, pattern)
			if err != nil {
				return "", err
			}
			alternatives[i] = fmt.Sprintf("%s == %s", field, literal)
		}
		// `in` would be shorter, but milvus-lite accepts it only on plain fields, not on JSON
		// paths: equalities joined by `or` work on both it and Milvus.
		return "(" + strings.Join(alternatives, " or ") + ")", nil
	}
	literal, err := literalOf(raw, name, pattern)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s == %s", field, literal), nil
}

// literalOf turns a JSON scalar into a Milvus literal; strings are quoted and escaped.
func literalOf(raw json.RawMessage, name string, pattern *regexp.Regexp) (string, error) {
	var value any
	decoder := json.NewDecoder(strings.NewReader(string(raw)))
	decoder.UseNumber()
	if err := decoder.Decode(&value); err != nil {
		return "", invalid("invalid_filter", "%s: not a JSON value", name)
	}
	switch v := value.(type) {
	case string:
		if len(v) > maxValueChars || hasControl(v) || (pattern != nil && !pattern.MatchString(v)) {
			return "", invalid("invalid_filter", "%s: %q is not an acceptable value", name, v)
		}
		return quote(v), nil
	case json.Number:
		if _, err := strconv.ParseFloat(v.String(), 64); err != nil || pattern != nil {
			return "", invalid("invalid_filter", "%s: %s is not an acceptable value", name, v)
		}
		return v.String(), nil
	case bool:
		if pattern != nil {
			return "", invalid("invalid_filter", "%s: expected a string", name)
		}
		return strconv.FormatBool(v), nil
	default:
		return "", invalid("invalid_filter", "%s: expected a string, number or boolean (or a list of them)", name)
	}
}

// quote makes a double-quoted Milvus string literal, escaping backslashes and quotes (values
// with control characters are refused before they get here).
func quote(value string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`
}

func isNull(raw json.RawMessage) bool {
	return strings.TrimSpace(string(raw)) == "null"
}

func hasControl(value string) bool {
	return strings.ContainsFunc(value, unicode.IsControl)
}
