package search

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The filter grammar. A filter is a JSON object whose keys are ANDed:
//
//	"and": [filter, ...]    every filter matches
//	"or":  [filter, ...]    at least one matches
//	"not": filter           the filter does not match
//	"document_id" | "page" | "section" | "updated_at": condition   a chunk's own fields
//	"metadata": {key: condition, ...}                              metadata keys, by name
//	any other key: condition                                       a metadata key (shorthand)
//
// A condition is a scalar (eq), a list (in) or an object of operators, ANDed: eq, ne, in, nin,
// gt, gte, lt, lte, exists. Negations (ne, nin, exists false, not) match the chunks that lack
// the key; a range matches numbers only, and its negation the chunks whose key is missing or a
// number outside it (a value of another type matches neither a range nor its negation).
//
// Milvus has no bound parameters, so the expression is built only from whitelisted fields and
// validated, quoted literals. Negations are pushed down to the leaves and written out
// (`not (exists k) or k != v`; `not` is only ever applied to `exists`): milvus-lite evaluates a
// comparison on a missing JSON key as unknown (Kleene logic), so `k != v` and `not (k == v)`
// would both leave out the chunks without k there, while Milvus's own evaluation of a missing
// key may differ; the written-out form reads the same in both.

const (
	maxFilterDepth      = 8   // and/or/not nested in one another
	maxFilterConditions = 100 // operators applied to fields, in a whole filter
)

// filterOperators in the order their clauses are written.
var filterOperators = []string{"eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "exists"}

// filterFields are the chunk's fields a filter names directly.
var filterFields = []string{"document_id", "page", "section", "updated_at"}

// negatedOps are the negations of the comparison operators (Milvus's spelling).
var negatedOps = map[string]string{"==": "!=", "!=": "==", ">": "<=", ">=": "<", "<": ">=", "<=": ">"}

var filterRangeOps = map[string]string{"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

// filterBuilder builds one filter's expression and counts its conditions.
type filterBuilder struct {
	conditions int
}

type filterMember struct {
	key   string
	value json.RawMessage
}

// object is the clauses of a filter object, to be joined by and (by or when negated).
func (b *filterBuilder) object(raw json.RawMessage, path string, depth int, negate bool) ([]string, error) {
	if jsonKind(raw) != '{' {
		return nil, invalid("invalid_filter", "%s: a filter is a JSON object", path)
	}
	fields, err := filterMembers(raw, path)
	if err != nil {
		return nil, err
	}
	var clauses []string
	for _, m := range fields {
		at := path + "." + m.key
		var more []string
		switch m.key {
		case "and", "or":
			more, err = b.list(m.key, m.value, at, depth+1, negate)
		case "not":
			more, err = b.not(m.value, at, depth+1, negate)
		case "metadata":
			more, err = b.metadata(m.value, at, negate)
		case "document_id", "page", "section", "updated_at":
			more, err = b.condition(fieldFilterTarget(m.key), m.value, at, negate)
		default:
			if !metadataKey.MatchString(m.key) {
				return nil, invalid("invalid_filter", "%s: unknown key %q: not and, or, not, metadata, %s, nor a metadata key (%s)",
					path, m.key, strings.Join(filterFields, ", "), metadataKey)
			}
			more, err = b.condition(metadataFilterTarget(m.key), m.value, at, negate)
		}
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, more...)
	}
	return clauses, nil
}

// nested is a filter object inside and/or/not, as one clause.
func (b *filterBuilder) nested(raw json.RawMessage, path string, depth int, negate bool) (string, error) {
	clauses, err := b.object(raw, path, depth, negate)
	if err != nil {
		return "", err
	}
	if len(clauses) == 0 {
		return "", invalid("invalid_filter", "%s: an empty filter (it would match everything); leave it out", path)
	}
	return joinClauses(clauses, negate), nil
}

// list is "and" or "or" of filters.
func (b *filterBuilder) list(op string, raw json.RawMessage, path string, depth int, negate bool) ([]string, error) {
	if depth > maxFilterDepth {
		return nil, invalid("invalid_filter", "%s: and/or/not are nested more than %d deep (the limit)", path, maxFilterDepth)
	}
	items, err := filterArray(raw, path, "a list of filters")
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, invalid("invalid_filter", "%s: an empty list", path)
	}
	// and(a, b) joins a's and b's clauses to the parent's (by and), and so does not and(a, b)
	// (by or: not a or not b); or(a, b) and not or(a, b) are one clause.
	flat := op == "and"
	var clauses []string
	for i, item := range items {
		at := fmt.Sprintf("%s[%d]", path, i)
		if flat {
			more, err := b.object(item, at, depth, negate)
			if err != nil {
				return nil, err
			}
			if len(more) == 0 {
				return nil, invalid("invalid_filter", "%s: an empty filter (it would match everything); leave it out", at)
			}
			clauses = append(clauses, more...)
			continue
		}
		clause, err := b.nested(item, at, depth, negate)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, clause)
	}
	if flat {
		return clauses, nil
	}
	return []string{joinClauses(clauses, !negate)}, nil
}

func (b *filterBuilder) not(raw json.RawMessage, path string, depth int, negate bool) ([]string, error) {
	if depth > maxFilterDepth {
		return nil, invalid("invalid_filter", "%s: and/or/not are nested more than %d deep (the limit)", path, maxFilterDepth)
	}
	clause, err := b.nested(raw, path, depth, !negate)
	if err != nil {
		return nil, err
	}
	return []string{clause}, nil
}

// metadata is {"key": condition, ...}: any key that looks like one, even "and" or "page"
// (null: none, as in the original shape).
func (b *filterBuilder) metadata(raw json.RawMessage, path string, negate bool) ([]string, error) {
	if jsonKind(raw) == 'n' {
		return nil, nil
	}
	if jsonKind(raw) != '{' {
		return nil, invalid("invalid_filter", "%s: expected an object of metadata keys", path)
	}
	fields, err := filterMembers(raw, path)
	if err != nil {
		return nil, err
	}
	var clauses []string
	for _, m := range fields {
		if !metadataKey.MatchString(m.key) {
			return nil, invalid("invalid_filter", "%s: key %q must match %s", path, m.key, metadataKey)
		}
		more, err := b.condition(metadataFilterTarget(m.key), m.value, path+"."+m.key, negate)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, more...)
	}
	return clauses, nil
}

// condition is a scalar (eq), a list (in) or an object of operators (ANDed).
func (b *filterBuilder) condition(t filterTarget, raw json.RawMessage, path string, negate bool) ([]string, error) {
	switch jsonKind(raw) {
	case 'n':
		return nil, invalid("invalid_filter", "%s: null matches nothing; leave the key out", path)
	case '[':
		clause, err := b.leaf(t, "in", raw, path, negate)
		return []string{clause}, err
	case '{':
	default:
		clause, err := b.leaf(t, "eq", raw, path, negate)
		return []string{clause}, err
	}
	fields, err := filterMembers(raw, path)
	if err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, invalid("invalid_filter", "%s: an empty condition; give one of %s", path, strings.Join(filterOperators, ", "))
	}
	slices.SortStableFunc(fields, func(x, y filterMember) int {
		return slices.Index(filterOperators, x.key) - slices.Index(filterOperators, y.key)
	})
	clauses := make([]string, 0, len(fields))
	for _, m := range fields {
		if !slices.Contains(filterOperators, m.key) {
			return nil, invalid("invalid_filter", "%s: unknown operator %q (one of %s; a metadata value is matched whole)",
				path, m.key, strings.Join(filterOperators, ", "))
		}
		clause, err := b.leaf(t, m.key, m.value, path+"."+m.key, negate)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, clause)
	}
	return clauses, nil
}

// leaf is one operator applied to a field, as one clause.
func (b *filterBuilder) leaf(t filterTarget, op string, raw json.RawMessage, path string, negate bool) (string, error) {
	if b.conditions++; b.conditions > maxFilterConditions {
		return "", invalid("invalid_filter", "%s: the filter has more than %d conditions (the limit)", path, maxFilterConditions)
	}
	if jsonKind(raw) == 'n' {
		return "", invalid("invalid_filter", "%s: null matches nothing; leave the key out", path)
	}
	switch op {
	case "exists":
		var want bool
		if err := json.Unmarshal(raw, &want); err != nil {
			return "", invalid("invalid_filter", "%s: exists takes true or false", path)
		}
		return t.exists(want != negate, path)
	case "in", "nin":
		items, err := filterArray(raw, path, "a list of values")
		if err != nil {
			return "", err
		}
		if len(items) == 0 || len(items) > maxListValues {
			return "", invalid("invalid_filter", "%s: a list needs 1 to %d values", path, maxListValues)
		}
		positive := (op == "in") != negate
		clauses := make([]string, len(items))
		for i, item := range items {
			if clauses[i], err = t.compare("==", item, fmt.Sprintf("%s[%d]", path, i), positive); err != nil {
				return "", err
			}
		}
		if positive {
			return joinClauses(clauses, true), nil
		}
		return t.absentOr(joinClauses(clauses, false)), nil
	case "eq", "ne":
		if jsonKind(raw) == '[' || jsonKind(raw) == '{' {
			return "", invalid("invalid_filter", "%s: %s takes a string, number or boolean", path, op)
		}
		clause, err := t.compare("==", raw, path, (op == "eq") != negate)
		if err != nil || (op == "eq") != negate {
			return clause, err
		}
		return t.absentOr(clause), nil
	default:
		clause, err := t.compare(filterRangeOps[op], raw, path, !negate)
		if err != nil || !negate {
			return clause, err
		}
		return t.absentOr(clause), nil
	}
}

// filterTarget is what a condition is on: a metadata key or one of the chunk's own fields.
type filterTarget struct {
	name string // "metadata" or the own field's name
	key  string // the metadata key
}

func metadataFilterTarget(key string) filterTarget { return filterTarget{name: "metadata", key: key} }
func fieldFilterTarget(name string) filterTarget   { return filterTarget{name: name} }

func (t filterTarget) path() string { return fmt.Sprintf("metadata[%s]", quote(t.key)) }

// compare is `field op value` (op one of == > >= < <=), negated unless positive, as one
// clause.
func (t filterTarget) compare(op string, raw json.RawMessage, path string, positive bool) (string, error) {
	ranged := op != "=="
	if t.name == "page" {
		n, err := pageOf(raw, path)
		if err != nil {
			return "", err
		}
		return pageFilterClause(op, n, positive), nil
	}
	if !positive {
		op = negatedOps[op]
	}
	switch t.name {
	case "metadata":
		v, err := filterScalarOf(raw, path)
		if err != nil {
			return "", err
		}
		if ranged && v.kind != 'n' {
			return "", invalid("invalid_filter", "%s: a range on metadata key %q needs a number, not %s", path, t.key, v.describe())
		}
		return fmt.Sprintf("%s %s %s", t.path(), op, v.literal), nil
	case "updated_at":
		ms, err := timestampOf(raw, path)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("created_at %s %d", op, ms), nil
	}
	// document_id and section: strings
	if ranged {
		return "", invalid("invalid_filter", "%s: %s is a string: it takes eq, ne, in and nin, not ranges", path, t.name)
	}
	pattern, field := documentID, "doc_id"
	if t.name == "section" {
		pattern, field = anyText, "section"
	}
	v, err := filterScalarOf(raw, path)
	if err != nil {
		return "", err
	}
	if v.kind != 's' || !pattern.MatchString(v.text) {
		return "", invalid("invalid_filter", "%s: %s is not a valid %s", path, v.describe(), t.name)
	}
	return fmt.Sprintf("%s %s %s", field, op, v.literal), nil
}

// pageFilterClause matches the chunks with a page that satisfies `page op n` (negated: those
// without one). A chunk spans pages page..page_end; 0..0 when its document has no pages, which
// only negations match.
func pageFilterClause(op string, n int, positive bool) string {
	type key struct {
		op       string
		positive bool
	}
	format := map[key]string{
		{"==", true}: "(page <= %[1]d and page_end >= %[1]d)", {"==", false}: "(page > %[1]d or page_end < %[1]d)",
		{">", true}: "page_end > %d", {">", false}: "page_end <= %d",
		{">=", true}: "page_end >= %d", {">=", false}: "page_end < %d",
		{"<", true}: "(page >= 1 and page < %d)", {"<", false}: "(page < 1 or page >= %d)",
		{"<=", true}: "(page >= 1 and page <= %d)", {"<=", false}: "(page < 1 or page > %d)",
	}[key{op, positive}]
	return fmt.Sprintf(format, n)
}

// absentOr extends a negated clause to the chunks that lack the key (metadata only: own
// fields are always there, and their negated clauses match the chunks without pages).
func (t filterTarget) absentOr(clause string) string {
	if t.name != "metadata" {
		return clause
	}
	return fmt.Sprintf("(not (exists %s) or %s)", t.path(), clause)
}

func (t filterTarget) exists(want bool, path string) (string, error) {
	switch t.name {
	case "metadata":
		if want {
			return fmt.Sprintf("(exists %s)", t.path()), nil
		}
		return fmt.Sprintf("not (exists %s)", t.path()), nil
	case "page":
		return map[bool]string{true: "page >= 1", false: "page < 1"}[want], nil
	case "section":
		return map[bool]string{true: `section != ""`, false: `section == ""`}[want], nil
	}
	return "", invalid("invalid_filter", "%s: every chunk has a %s: exists applies to metadata keys, page and section", path, t.name)
}

// joinClauses joins clauses by and (or), parenthesised unless there is one.
func joinClauses(clauses []string, or bool) string {
	if len(clauses) == 1 {
		return clauses[0]
	}
	if or {
		return "(" + strings.Join(clauses, " or ") + ")"
	}
	return "(" + strings.Join(clauses, " and ") + ")"
}

// filterScalar is a JSON string, number or boolean and its Milvus literal.
type filterScalar struct {
	kind    byte // 's', 'n' (number) or 'b'
	text    string
	literal string
}

func (v filterScalar) describe() string {
	switch v.kind {
	case 's':
		return "the string " + strconv.Quote(v.text)
	case 'b':
		return "a boolean"
	}
	return "the number " + v.literal
}

// filterScalarOf validates a JSON scalar; strings are quoted and escaped, numbers must fit int64
// (integers) or float64 (finite).
func filterScalarOf(raw json.RawMessage, path string) (filterScalar, error) {
	switch jsonKind(raw) {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return filterScalar{}, invalid("invalid_filter", "%s: not a JSON string", path)
		}
		if len(s) > maxValueChars || hasControl(s) || !utf8.ValidString(s) {
			return filterScalar{}, invalid("invalid_filter", "%s: %q is not an acceptable value (at most %d bytes, no control characters)",
				path, s, maxValueChars)
		}
		return filterScalar{kind: 's', text: s, literal: quote(s)}, nil
	case 't', 'f':
		var v bool
		if err := json.Unmarshal(raw, &v); err != nil {
			return filterScalar{}, invalid("invalid_filter", "%s: not a JSON value", path)
		}
		return filterScalar{kind: 'b', literal: strconv.FormatBool(v)}, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		literal, err := numberOf(string(bytes.TrimSpace(raw)))
		if err != nil {
			return filterScalar{}, invalid("invalid_filter", "%s: %s", path, err)
		}
		return filterScalar{kind: 'n', literal: literal}, nil
	}
	return filterScalar{}, invalid("invalid_filter", "%s: expected a string, number or boolean", path)
}

// numberOf is a JSON number as a literal both Milvus and milvus-lite parse alike.
func numberOf(text string) (string, error) {
	if !json.Valid([]byte(text)) {
		return "", fmt.Errorf("%s is not a JSON number", text)
	}
	if !strings.ContainsAny(text, ".eE") {
		n, err := strconv.ParseInt(text, 10, 64)
		// Milvus reads -9223372036854775808 as the negation of a literal beyond int64.
		if err != nil || n == math.MinInt64 {
			return "", fmt.Errorf("%s is beyond the 64-bit integers", text)
		}
		return strconv.FormatInt(n, 10), nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		if errors.Is(err, strconv.ErrRange) && f == 0 {
			return "0", nil // underflow: 1e-400 is 0 as a double
		}
		return "", fmt.Errorf("%s is beyond the 64-bit floating-point numbers", text)
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}

// pageOf is a page number (1 to maxPage).
func pageOf(raw json.RawMessage, path string) (int, error) {
	var page int
	if jsonKind(raw) == '"' || json.Unmarshal(raw, &page) != nil || page < 1 || page > maxPage {
		return 0, invalid("invalid_filter", "%s: %s is not a page number (1 to %d)", path, shortJSON(raw), maxPage)
	}
	return page, nil
}

// timestampOf is an RFC 3339 timestamp as epoch milliseconds, as the pipeline stores when it
// accepted a version (sub-millisecond digits are dropped, as they are there).
func timestampOf(raw json.RawMessage, path string) (int64, error) {
	var text string
	if jsonKind(raw) == '"' && json.Unmarshal(raw, &text) == nil {
		if t, err := time.Parse(time.RFC3339Nano, text); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, invalid("invalid_filter", "%s: %s is not an RFC 3339 timestamp (such as \"2024-05-01T12:00:00Z\")", path, shortJSON(raw))
}

// filterMembers decodes a JSON object's members (its keys sorted); a key given twice is
// refused, and so are more keys than a filter may have conditions (before decoding them all).
func filterMembers(raw json.RawMessage, path string) ([]filterMember, error) {
	decoder := json.NewDecoder(bytes.NewReader(raw))
	if token, err := decoder.Token(); err != nil || token != json.Delim('{') {
		return nil, invalid("invalid_filter", "%s: expected a JSON object", path)
	}
	var out []filterMember
	seen := map[string]bool{}
	for decoder.More() {
		if len(out) == maxFilterConditions+4 { // and, or, not, metadata
			return nil, invalid("invalid_filter", "%s: more keys than a filter may have conditions (%d)", path, maxFilterConditions)
		}
		token, err := decoder.Token()
		key, isKey := token.(string)
		var value json.RawMessage
		if err != nil || !isKey || decoder.Decode(&value) != nil {
			return nil, invalid("invalid_filter", "%s: not a valid JSON object", path)
		}
		if seen[key] {
			return nil, invalid("invalid_filter", "%s: key %q is given twice", path, key)
		}
		seen[key] = true
		out = append(out, filterMember{key: key, value: value})
	}
	slices.SortFunc(out, func(x, y filterMember) int { return strings.Compare(x.key, y.key) })
	return out, nil
}

func filterArray(raw json.RawMessage, path, what string) ([]json.RawMessage, error) {
	var items []json.RawMessage
	if jsonKind(raw) != '[' || json.Unmarshal(raw, &items) != nil {
		return nil, invalid("invalid_filter", "%s: expected %s", path, what)
	}
	return items, nil
}

// jsonKind is the first byte of a JSON value: '{', '[', '"', 't', 'f', 'n', '-' or a digit.
func jsonKind(raw json.RawMessage) byte {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 {
		return 0
	}
	return trimmed[0]
}

// shortJSON is a JSON value for an error message, cut short.
func shortJSON(raw json.RawMessage) string {
	text := string(bytes.TrimSpace(raw))
	if len(text) > 64 {
		cut := 61
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		return text[:cut] + "..."
	}
	return text
}
