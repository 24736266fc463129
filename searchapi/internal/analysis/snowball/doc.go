// Package snowball is the Go runtime of the Snowball stemming language, and
// its subpackage english the English (Porter2) stemmer generated from
// Snowball's algorithms/english.sbl: both from Snowball 3.1.1
// (github.com/snowballstem/snowball, tag v3.1.1, BSD-3-Clause: LICENSE), the
// release whose English algorithm PyStemmer 3.1.0, the Python side's stemmer,
// compiles. The Go proxy serves no module of the Snowball project itself, and
// the Go ports it serves predate Snowball 3's English changes (README.md).
//
// env.go, among.go and util.go are Snowball's go/ directory unchanged; only
// this file and README.md are Sluice's.
package snowball
