// Package main checks Grafana Alloy configuration files offline.
//
// The Alloy binary cannot be built here, so the check uses Alloy's own syntax parser
// (github.com/grafana/alloy/syntax) and adds what the parser alone does not see: every
// top-level block must be a labelled component this repository expects, and every reference
// such as loki.write.default.receiver must name a declared component and a field it exports.
package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/grafana/alloy/syntax/ast"
	"github.com/grafana/alloy/syntax/parser"
)

// exports lists the components Sluice's configs may use and the fields each exports, from
// Alloy's component reference (docs/sources/reference/components/...). Add a component here
// when a config starts using it.
var exports = map[string][]string{
	"discovery.docker":       {"targets"},
	"discovery.kubernetes":   {"targets"},
	"discovery.relabel":      {"output", "rules"},
	"loki.source.docker":     {},
	"loki.source.kubernetes": {},
	"loki.process":           {"receiver"},
	"loki.relabel":           {"receiver", "rules"},
	"loki.write":             {"receiver"},
}

// stdlib are the namespaces of Alloy's standard library functions (sys.env, string.format...).
var stdlib = map[string]bool{
	"sys": true, "string": true, "encoding": true, "array": true, "convert": true,
	"json_path": true, "coalesce": true, "constants": true, "env": true,
}

// Check parses one file and returns every problem found, each prefixed with its position.
func Check(filename string, src []byte) []error {
	file, err := parser.ParseFile(filename, src)
	if err != nil {
		return []error{err}
	}
	var errs []error
	declared := map[string]bool{} // "loki.write.default"
	for _, stmt := range file.Body {
		block, ok := stmt.(*ast.BlockStmt)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: only component blocks belong at the top level", ast.StartPos(stmt).Position()))
			continue
		}
		name := strings.Join(block.Name, ".")
		switch {
		case exports[name] == nil:
			errs = append(errs, fmt.Errorf("%s: unknown component %q (known: %s)", block.NamePos.Position(), name, known()))
		case block.Label == "":
			errs = append(errs, fmt.Errorf("%s: component %q needs a label", block.NamePos.Position(), name))
		case declared[name+"."+block.Label]:
			errs = append(errs, fmt.Errorf("%s: %s %q declared twice", block.NamePos.Position(), name, block.Label))
		default:
			declared[name+"."+block.Label] = true
		}
	}
	ast.Walk(&references{declared: declared, errs: &errs}, file)
	return errs
}

// references visits every expression and checks the component references in it.
type references struct {
	declared map[string]bool
	errs     *[]error
}

func (r *references) Visit(node ast.Node) ast.Visitor {
	switch n := node.(type) {
	case *ast.AccessExpr:
		if path, ok := dotted(n); ok {
			r.check(path, n)
		}
		return nil // the inner parts of a.b.c are not references of their own
	case *ast.CallExpr:
		for _, arg := range n.Args {
			ast.Walk(r, arg)
		}
		return nil // the callee (sys.env) is a function, not a component
	}
	return r
}

func (r *references) check(path []string, node ast.Node) {
	if stdlib[path[0]] {
		return
	}
	pos := ast.StartPos(node).Position()
	for component, fields := range exports {
		parts := strings.Split(component, ".")
		if len(path) != len(parts)+2 || strings.Join(path[:len(parts)], ".") != component {
			continue
		}
		label, field := path[len(parts)], path[len(parts)+1]
		if !r.declared[component+"."+label] {
			*r.errs = append(*r.errs, fmt.Errorf("%s: %s refers to an undeclared %s %q", pos, strings.Join(path, "."), component, label))
		} else if !contains(fields, field) {
			*r.errs = append(*r.errs, fmt.Errorf("%s: %s %q exports no field %q (exports: %v)", pos, component, label, field, fields))
		}
		return
	}
	*r.errs = append(*r.errs, fmt.Errorf("%s: %s is not a reference to a known component's export", pos, strings.Join(path, ".")))
}

// dotted turns a.b.c (identifiers joined by field accesses) into its parts.
func dotted(expr ast.Expr) ([]string, bool) {
	switch e := expr.(type) {
	case *ast.IdentifierExpr:
		return []string{e.Ident.Name}, true
	case *ast.AccessExpr:
		head, ok := dotted(e.Value)
		return append(head, e.Name.Name), ok
	}
	return nil, false
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

func known() string {
	names := make([]string, 0, len(exports))
	for name := range exports {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
