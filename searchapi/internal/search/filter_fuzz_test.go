package search

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// FuzzFilter builds scopes from arbitrary JSON filters and GET query strings: no input may
// widen the tenant clause. Every expression must be the tenant clause alone or followed by
// ` and (…)`, the part inside in the grammar the builder writes (parsed below: balanced
// parentheses, terminated and escaped literals, whitelisted fields only), and every error a
// *Error with code invalid_filter.
//
//	go test -run='^$' -fuzz='^FuzzFilter$' -fuzztime=60s ./internal/search/
//
// Plain `go test` replays the seeds below and testdata/fuzz/FuzzFilter.
func FuzzFilter(f *testing.F) {
	for _, seed := range []struct{ body, query string }{
		{`{}`, ``},
		{`null`, `q=water&k=3`},
		{`{"and": [{"year": {"gte": 2020}}, {"lang": {"in": ["en", "de"]}}]}`, `filter.year.gte=2020&filter.lang.in=en,de`},
		{`{"metadata": {"lang": "en", "year": [2020, 2021]}, "document_id": ["a", "b-2"]}`, `filter.lang=en&filter.document_id=a`},
		{`{"or": [{"tenant": "other"}, {"document_id": "x"}]}`, `filter.tenant=other`},
		{`{"not": {"or": [{"draft": true}, {"page": {"gte": 3, "lte": 5}}]}}`, `filter.page.gte=3&filter.page.lte=5`},
		{`{"updated_at": {"gte": "2024-05-01T00:00:00Z", "lt": "2025-01-01T00:00:00.5+01:00"}}`, `filter.updated_at.gte=2024-05-01T00:00:00Z`},
		{`{"section": {"nin": ["Install > Linux", "A \"quoted\" one"]}, "page": {"exists": true}}`, `filter.section.ne=Install%20%3E%20Linux`},
		{`{"lang": {"ne": "en"}, "year": {"nin": [1, 2.5, -3e10]}, "flag": {"exists": false}}`, `filter.lang.ne=en&filter.year.nin=1,2.5,-3e10`},
		{`{"k": "x\" or tenant != \"zzz"}`, `filter.k=x%22%20or%20tenant%20!%3D%20%22zzz`},
		{`{"k": "a\\\" or 1==1 or \"\\"}`, `filter.k=a%5C%22)%20or%20(1`},
		{`{"k": ") or (true"}`, `filter.k.in=%22)%2C(%22,%22%5C%5C%22`},
		{`{"metadata": {"and": {"gt": 1}, "page": "x"}}`, `filter.metadata.page.lt=5&filter.metadata.and=1`},
		{`{"not": {"not": {"not": {"a": {"exists": true}}}}}`, `filter={"not":{"a":1}}&filter.b=2`},
		{`{"year": {"gte": "2020"}}`, `filter.year.gt=abc`},
		{`{"year": 99999999999999999999}`, `filter.year=99999999999999999999`},
		{`{"year": {"lt": 1e400}}`, `filter.year.lt=1e400`},
		{`{"page": [1, 2, 3], "section": "Mills > Water"}`, `filter.page.in=1,2,3`},
		{`{"and": [{"and": [{"and": [{"and": [{"and": [{"and": [{"and": [{"and": [{"and": [{"a": 1}]}]}]}]}]}]}]}]}]}`, `filter.and=1`},
		{`{"a": null, "b": []}`, `filter.a.between=1&filter.=2&filter.x.y.z=3`},
		{`{"a": 1, "a": 2}`, `filter.a=1&filter.a=2`},
		{`{"document_id": {"in": ["x' or 1==1", "ok"]}}`, `filter.document_id.in=ok,x'%20or%201%3D%3D1`},
		{`{"or": [{"a": {"gt": -1, "lte": 1.5}}, {"b": {"ne": false}}, {"c": {"in": ["日本", "ü"]}}]}`, `filter.c.in=%E6%97%A5,%C3%BC`},
	} {
		f.Add(seed.body, seed.query)
	}
	f.Fuzz(func(t *testing.T, body, query string) {
		if json.Valid([]byte(body)) {
			var filter Filter
			if err := json.Unmarshal([]byte(body), &filter); err != nil {
				t.Fatalf("a valid JSON value did not decode as a filter: %v", err)
			}
			checkScope(t, filter, body)
		}
		values, _ := url.ParseQuery(query) // what it could parse, as net/http does
		filter, err := FilterFromQuery(values)
		if err != nil {
			checkError(t, err, query)
			return
		}
		checkScope(t, filter, query)
	})
}

func checkScope(t *testing.T, filter Filter, input string) {
	t.Helper()
	scope, err := filter.Scope("acme")
	if err != nil {
		checkError(t, err, input)
		return
	}
	expr := scope.Expression()
	if scope.Tenant() != "acme" {
		t.Fatalf("%q: the scope's tenant is %q", input, scope.Tenant())
	}
	rest, ok := strings.CutPrefix(expr, `tenant == "acme"`)
	if !ok {
		t.Fatalf("%q: %q does not start with the tenant clause", input, expr)
	}
	if rest == "" {
		return
	}
	user, ok := strings.CutPrefix(rest, " and (")
	if !ok || !strings.HasSuffix(user, ")") {
		t.Fatalf("%q: after the tenant clause %q is not ` and (…)`", input, rest)
	}
	if err := parseUserPart(strings.TrimSuffix(user, ")")); err != nil {
		t.Fatalf("%q: %q: %v", input, expr, err)
	}
}

func checkError(t *testing.T, err error, input string) {
	t.Helper()
	var bad *Error
	if !errors.As(err, &bad) || bad.Code != "invalid_filter" || bad.Message == "" {
		t.Fatalf("%q: the error %T %v is not an invalid_filter *Error", input, err, err)
	}
}

// parseUserPart checks the part of an expression under the tenant clause against the grammar
// the builder writes:
//
//	user    = clause {" and " clause}
//	clause  = "(" group ")" | "(exists " json ")" | "not (exists " json ")" | compare
//	group   = clause " and " clause {" and " clause} | clause " or " clause {" or " clause}
//	compare = (json | "doc_id" | "section") " " op " " literal
//	        | ("page" | "page_end" | "created_at") " " op " " integer
//	json    = `metadata["` key `"]`
func parseUserPart(user string) error {
	p := &exprParser{s: user}
	if err := p.sequence(" and ", 1); err != nil {
		return err
	}
	if p.i != len(p.s) {
		return p.fail("trailing text")
	}
	return nil
}

type exprParser struct {
	s string
	i int
}

func (p *exprParser) fail(what string) error {
	return fmt.Errorf("%s at %d: %q", what, p.i, p.s[p.i:min(len(p.s), p.i+40)])
}

func (p *exprParser) eat(token string) bool {
	if strings.HasPrefix(p.s[p.i:], token) {
		p.i += len(token)
		return true
	}
	return false
}

// sequence is at least `least` clauses joined by sep.
func (p *exprParser) sequence(sep string, least int) error {
	n := 0
	for {
		if err := p.clause(); err != nil {
			return err
		}
		if n++; !p.eat(sep) {
			break
		}
	}
	if n < least {
		return p.fail(fmt.Sprintf("a group of %d clause(s)", n))
	}
	return nil
}

func (p *exprParser) clause() error {
	switch {
	case p.eat("not (exists "):
		return p.existsTail()
	case p.eat("(exists "):
		return p.existsTail()
	case p.eat("("):
		if err := p.clause(); err != nil {
			return err
		}
		var sep string
		switch {
		case p.eat(" and "):
			sep = " and "
		case p.eat(" or "):
			sep = " or "
		default:
			return p.fail("a group of one clause")
		}
		if err := p.sequence(sep, 1); err != nil {
			return err
		}
		if !p.eat(")") {
			return p.fail("an unclosed group")
		}
		return nil
	}
	return p.compare()
}

func (p *exprParser) existsTail() error {
	if err := p.jsonPath(); err != nil {
		return err
	}
	if !p.eat(")") {
		return p.fail("an unclosed exists")
	}
	return nil
}

func (p *exprParser) jsonPath() error {
	if !p.eat(`metadata["`) {
		return p.fail("not a metadata key")
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '"' {
		p.i++
	}
	if !metadataKey.MatchString(p.s[start:p.i]) || !p.eat(`"]`) {
		return p.fail("a bad metadata key")
	}
	return nil
}

func (p *exprParser) compare() error {
	kind := "any"
	switch {
	case strings.HasPrefix(p.s[p.i:], "metadata["):
		if err := p.jsonPath(); err != nil {
			return err
		}
	case p.eat("doc_id"), p.eat("section"):
		kind = "string"
	case p.eat("page_end"), p.eat("page"), p.eat("created_at"):
		kind = "integer"
	default:
		return p.fail("not a field")
	}
	op := ""
	for _, candidate := range []string{" == ", " != ", " <= ", " >= ", " < ", " > "} {
		if p.eat(candidate) {
			op = candidate
			break
		}
	}
	if op == "" {
		return p.fail("not a comparison")
	}
	if quoted := p.i < len(p.s) && p.s[p.i] == '"'; kind == "string" && !quoted || kind == "integer" && quoted {
		return p.fail("a literal of the wrong type")
	}
	return p.literal(kind == "integer")
}

func (p *exprParser) literal(integer bool) error {
	if p.eat(`"`) {
		for p.i < len(p.s) {
			switch c := p.s[p.i]; {
			case c == '"':
				p.i++
				return nil
			case c == '\\':
				if p.i+1 >= len(p.s) || (p.s[p.i+1] != '"' && p.s[p.i+1] != '\\') {
					return p.fail("a bad escape")
				}
				p.i += 2
			case c < 0x20 || c == 0x7f:
				return p.fail("a control character in a literal")
			default:
				p.i++
			}
		}
		return p.fail("an unterminated string")
	}
	if !integer && (p.eat("true") || p.eat("false")) {
		return nil
	}
	start := p.i
	p.eat("-")
	digits := func() bool {
		from := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		return p.i > from
	}
	if !digits() {
		return p.fail("not a literal")
	}
	if integer {
		return nil
	}
	if p.eat(".") && !digits() {
		return p.fail("a bad fraction")
	}
	if p.eat("e") {
		if !p.eat("+") {
			p.eat("-")
		}
		if !digits() {
			return p.fail("a bad exponent")
		}
	}
	if !json.Valid([]byte(p.s[start:p.i])) {
		return p.fail("a bad number")
	}
	return nil
}

// The checker must refuse what a widened or broken expression looks like.
func TestParseUserPartRefuses(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		`metadata["a"] == 1) or (tenant != "x"`,
		`metadata["a"] == 1 or tenant == "other"`,
		`metadata["a"] == 1 and metadata["b"] == 2 or metadata["c"] == 3`,
		`(metadata["a"] == 1 and metadata["b"] == 2 or metadata["c"] == 3)`,
		`metadata["a"] == "x`,
		`metadata["a"] == "x\"`,
		`metadata["a"] == "x\n"`,
		`metadata["a"] == "a" == "b"`,
		`(metadata["a"] == 1)`,
		`((metadata["a"] == 1 or metadata["b"] == 1)`,
		`metadata["a b"] == 1`,
		`tenant == "x"`,
		`doc_id == 1`,
		`page == "1"`,
		`page == 1.5`,
		`not (metadata["a"] == 1)`,
		`(exists metadata["a"]`,
		`metadata["a"] in [1, 2]`,
		`metadata["a"] == 1 `,
		``,
	} {
		if err := parseUserPart(bad); err == nil {
			t.Errorf("%q passed the check", bad)
		}
	}
	good := `(metadata["a"] == -1.5e+07 or (doc_id != "x\"y\\" and section == "")) and not (exists metadata["b"]) and (exists metadata["c"]) and (page <= 3 and page_end >= 3) and created_at < 1`
	if err := parseUserPart(good); err != nil {
		t.Errorf("%q: %v", good, err)
	}
}
