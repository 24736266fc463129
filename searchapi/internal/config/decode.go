package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Strict decoding of the merged files and variables into Config, by hand rather than by
// yaml.v3, which reads 16.5 as the integer 16 and true as the string "true". The rules are
// pydantic's (the Python side) where they matter: integers may be written 16.0 or "16",
// strings must be strings, null only where a field may be absent.

// DeclaredKeys are the keys Config declares for each section searchapi reads, sorted.
func DeclaredKeys() map[string][]string {
	keys := map[string][]string{}
	config := reflect.TypeFor[Config]()
	for i := range config.NumField() {
		section := config.Field(i)
		for j := range section.Type.NumField() {
			keys[tag(section)] = append(keys[tag(section)], tag(section.Type.Field(j)))
		}
		slices.Sort(keys[tag(section)])
	}
	return keys
}

// goSections are the sections searchapi reads.
func goSections() []string {
	var sections []string
	for section := range DeclaredKeys() {
		sections = append(sections, section)
	}
	return sections
}

func tag(field reflect.StructField) string {
	name, _, _ := strings.Cut(field.Tag.Get("yaml"), ",")
	return name
}

// fieldByTag is the field of a struct value whose yaml tag is name.
func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	for i := range v.NumField() {
		if tag(v.Type().Field(i)) == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// decode sets cfg's fields from the tree; it returns a problem per bad field, naming it.
func decode(tree map[string]any, cfg *Config) []string {
	var problems []string
	root := reflect.ValueOf(cfg).Elem()
	for _, section := range sortedKeys(tree) {
		out, read := fieldByTag(root, section)
		if !read {
			continue // a section of the Python services (readDir and applyEnvironment refused the others)
		}
		problems = append(problems, decodeSection(section, tree[section], out)...)
	}
	return problems
}

func decodeSection(section string, raw any, out reflect.Value) []string {
	values, err := mapping(raw)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", section, err)}
	}
	var problems []string
	for _, key := range sortedKeys(values) {
		name := section + "." + key
		field, declared := fieldByTag(out, key)
		if !declared {
			keys := DeclaredKeys()[section]
			problems = append(problems, fmt.Sprintf("%s: unknown key (%s has: %s)", name, section, strings.Join(keys, ", ")))
			continue
		}
		if err := decodeValue(values[key], field); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
		}
	}
	return problems
}

// mapping reads a section or a map field: a mapping from a file, or JSON (YAML) in a variable.
func mapping(raw any) (map[string]any, error) {
	if text, ok := raw.(envValue); ok {
		var parsed any
		if err := yaml.Unmarshal([]byte(text), &parsed); err != nil {
			return nil, fmt.Errorf("expected a JSON mapping, got %q", string(text))
		}
		raw = parsed
	}
	values, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected a mapping, got %s", describe(raw))
	}
	return values, nil
}

// decodeValue sets out, a field of one of the kinds Config uses, from raw.
func decodeValue(raw any, out reflect.Value) error {
	switch out.Kind() {
	case reflect.Pointer:
		if raw == nil {
			out.SetZero()
			return nil
		}
		elem := reflect.New(out.Type().Elem())
		if err := decodeValue(raw, elem.Elem()); err != nil {
			return err
		}
		out.Set(elem)
		return nil
	case reflect.String:
		text, ok := asString(raw)
		if !ok {
			return fmt.Errorf("expected a string, got %s", describe(raw))
		}
		out.SetString(text)
		return nil
	case reflect.Int:
		number, ok := asInteger(raw)
		if !ok {
			return fmt.Errorf("expected an integer, got %s", describe(raw))
		}
		out.SetInt(number)
		return nil
	case reflect.Float64:
		number, ok := asNumber(raw)
		if !ok {
			return fmt.Errorf("expected a number, got %s", describe(raw))
		}
		out.SetFloat(number)
		return nil
	case reflect.Map: // map[string]string
		values, err := mapping(raw)
		if err != nil {
			return err
		}
		decoded := reflect.MakeMapWithSize(out.Type(), len(values))
		for key, value := range values {
			text, ok := asString(value)
			if !ok {
				return fmt.Errorf("%s: expected a string, got %s", key, describe(value))
			}
			decoded.SetMapIndex(reflect.ValueOf(key), reflect.ValueOf(text))
		}
		out.Set(decoded)
		return nil
	default:
		panic(fmt.Sprintf("config: no decoding for a field of type %s", out.Type()))
	}
}

func asString(raw any) (string, bool) {
	switch v := raw.(type) {
	case string:
		return v, true
	case envValue:
		return string(v), true
	}
	return "", false
}

func asInteger(raw any) (int64, bool) {
	if text, ok := asString(raw); ok {
		text = strings.TrimSpace(text)
		if number, err := strconv.ParseInt(text, 10, 64); err == nil {
			return number, true
		}
		parsed, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return 0, false
		}
		raw = parsed
	}
	switch v := raw.(type) {
	case int:
		return int64(v), true
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return 0, false
		}
		return int64(v), true
	}
	return 0, false
}

func asNumber(raw any) (float64, bool) {
	if text, ok := asString(raw); ok {
		number, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		return number, err == nil
	}
	switch v := raw.(type) {
	case int:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// describe names a value in an error message.
func describe(raw any) string {
	switch v := raw.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(v)
	case envValue:
		return strconv.Quote(string(v))
	case map[string]any, map[any]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("%v", v)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}
