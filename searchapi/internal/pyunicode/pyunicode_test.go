package pyunicode

import "testing"

func TestIsAlnum(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r    rune
		want bool
	}{
		{'a', true}, {'Z', true}, {'7', true}, {'_', false}, {'\'', false}, {'-', false},
		{'é', true}, {'ß', true}, {'İ', true}, {'ı', true}, {'ς', true}, {'я', true},
		{'東', true}, {'²', true}, {'½', true}, {'①', true}, {'\u0301', false}, {'\u0307', false},
		{'\u00ad', false}, {'\u200b', false}, {'🍕', false}, {'𝐀', true}, {'\u3000', false},
	} {
		if got := IsAlnum(tc.r); got != tc.want {
			t.Errorf("IsAlnum(%q) = %v, want %v (Python's str.isalnum)", tc.r, got, tc.want)
		}
	}
}

func TestAppendLower(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Hello", "hello"},
		{"İstanbul", "i\u0307stanbul"}, // the full mapping: two code points
		{"IŞIK", "işik"},               // no Turkish rules, as in Python
		{"ΟΔΟΣ", "οδος"},               // final sigma
		{"ΣΑΣ", "σας"},
		{"Σ", "σ"},
		{"ΑΣ'Α", "ασ'α"}, // the apostrophe is case-ignorable: not final
		{"ẞ STRASSE", "ß strasse"},
		{"𐐀𐐁", "𐐨𐐩"},
	} {
		if got := string(AppendLower(nil, tc.in)); got != tc.want {
			t.Errorf("AppendLower(%q) = %q, want %q (Python's str.lower)", tc.in, got, tc.want)
		}
	}
}
