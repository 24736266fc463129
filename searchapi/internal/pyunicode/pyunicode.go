// Package pyunicode reproduces Python's str.isalnum() and str.lower() in Go,
// so that Go code can tokenise text exactly as Sluice's Python code does (the
// hashing embedder's tokens, the full-text analyser's terms).
package pyunicode

import (
	"unicode"
	"unicode/utf8"
)

// This file reproduces the Unicode semantics of Python's str.isalnum() and
// str.lower() on top of Go's unicode tables. Both follow the Unicode Character
// Database, so they agree wherever Go and the Python interpreter use the same
// Unicode version (Go 1.26: 15.0.0; CPython 3.11: 14.0.0, 3.12: 15.0.0, 3.13:
// 15.1.0). Checked over every code point against CPython 3.12: isalnum, lower
// and the Final_Sigma context agree everywhere. Against CPython 3.11 they differ
// only for the 4,388 characters new in Unicode 15.0 (e.g. CJK Extension H,
// U+31350..U+323AF), which Python 3.11 does not count as alphanumeric.

// asciiAlnum[b] reports whether the ASCII byte b is a letter or a digit.
var asciiAlnum = func() (t [utf8.RuneSelf]bool) {
	for b := range utf8.RuneSelf {
		t[b] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
	}
	return t
}()

// IsAlnum reports whether Python's str.isalnum() is true for r: whether r is
// a letter (Lu, Ll, Lt, Lm, Lo) or has a numeric type. Every character with a
// numeric type is in Nd, Nl or No, or is a letter (CJK numerals are Lo).
func IsAlnum(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiAlnum[r]
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

const (
	capitalDottedI = '\u0130' // İ, whose full lowercase is "i\u0307"
	capitalSigma   = '\u03a3' // Σ
	smallSigma     = '\u03c3' // σ
	finalSigma     = '\u03c2' // ς
)

// AppendLower appends Python's s.lower() to buf: the full Unicode lowercase
// mapping, which differs from the simple one (unicode.ToLower) only for İ,
// plus the Final_Sigma rule for Σ. Like Python, it ignores the language-
// specific rules of SpecialCasing.txt.
func AppendLower(buf []byte, s string) []byte {
	for i, r := range s {
		switch {
		case r < utf8.RuneSelf:
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			buf = append(buf, byte(r))
		case r == capitalDottedI:
			buf = append(buf, "i\u0307"...)
		case r == capitalSigma:
			if isFinalSigma(s, i) {
				buf = utf8.AppendRune(buf, finalSigma)
			} else {
				buf = utf8.AppendRune(buf, smallSigma)
			}
		default:
			buf = utf8.AppendRune(buf, unicode.ToLower(r))
		}
	}
	return buf
}

// isFinalSigma reports whether the Σ at byte offset i of s is in the
// Final_Sigma context, as CPython's handle_capital_sigma decides it:
//
//	\p{cased} \p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased})
func isFinalSigma(s string, i int) bool {
	before := s[:i]
	for {
		if before == "" {
			return false
		}
		r, n := utf8.DecodeLastRuneInString(before)
		before = before[:len(before)-n]
		if !isCaseIgnorable(r) {
			if !isCased(r) {
				return false
			}
			break
		}
	}
	for _, r := range s[i+utf8.RuneLen(capitalSigma):] {
		if !isCaseIgnorable(r) {
			return !isCased(r)
		}
	}
	return true
}

// isCased reports whether r has the derived property Cased: Lu, Ll, Lt,
// Other_Uppercase or Other_Lowercase.
func isCased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.In(r, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// isCaseIgnorable reports whether r has the derived property Case_Ignorable:
// Mn, Me, Cf, Lm, Sk, or Word_Break MidLetter, MidNumLet or Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', '\u00b7', '\u0387', '\u055f', '\u05f4', '\u2018', '\u2019',
		'\u2024', '\u2027', '\ufe13', '\ufe52', '\ufe55', '\uff07', '\uff0e', '\uff1a':
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
