package milvus

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"sluice.dev/searchapi/internal/embed"
	"sluice.dev/searchapi/internal/search"
)

// These tests run search filters against a real milvus-lite collection (skipped under
// -short): the chunks each operator selects, and a reference evaluation of the documented
// semantics compared with Milvus's answers for a few hundred generated filters, none of which
// Milvus may refuse.

// filterRow is one chunk of the filter tests' collection (its title is tenant/doc).
type filterRow struct {
	tenant, doc     string
	page, pageEnd   int32
	section         string
	created         int64 // created_at: epoch milliseconds
	metadata        string
	decodedMetadata map[string]any
}

const epoch = 1714564800000 // 2024-05-01T12:00:00Z

var filterRows = []filterRow{
	{tenant: "lit", doc: "d1", page: 1, pageEnd: 2, section: "Intro", created: epoch,
		metadata: `{"year": 2020, "lang": "en", "draft": false}`},
	{tenant: "lit", doc: "d2", page: 3, pageEnd: 3, section: "Intro > Setup", created: epoch + 1000,
		metadata: `{"year": 2021.5, "lang": "de", "draft": true}`},
	{tenant: "lit", doc: "d3", section: "", created: epoch + 2000,
		metadata: `{"year": "2020", "lang": "fr"}`},
	{tenant: "lit", doc: "d4", page: 5, pageEnd: 9, section: "Body", created: epoch + 3000,
		metadata: `{"lang": "en", "tags": ["a", "b"]}`},
	{tenant: "lit", doc: "d5", page: 10, pageEnd: 10, section: `Body "quoted"`, created: epoch + 4000,
		metadata: `{}`},
	{tenant: "lit", doc: "d6", page: 2, pageEnd: 4, section: "Body", created: epoch + 5000,
		metadata: `{"year": null, "lang": "x\" or tenant != \"zzz", "nested": {"a": 1}}`},
	{tenant: "lit", doc: "d7", page: 12, pageEnd: 12, section: `a\b`, created: epoch + 6000,
		metadata: `{"year": -5, "n": 9007199254740993, "lang": "a\\\" or 1==1 or \"\\"}`},
	{tenant: "lit", doc: "d8", section: "Intro", created: epoch + 7000,
		metadata: `{"year": 1999, "tenant": "other", "draft": false, "lang": "日本 ) or (true"}`},
	// Another tenant, with metadata that matches most filters.
	{tenant: "other", doc: "d1", page: 1, pageEnd: 2, section: "Intro", created: epoch,
		metadata: `{"year": 2020, "lang": "en", "draft": false, "tenant": "other"}`},
	{tenant: "other", doc: "o2", page: 3, pageEnd: 3, section: "Body", created: epoch + 1000,
		metadata: `{"year": 2021.5, "lang": "de"}`},
	{tenant: "other", doc: "o3", created: epoch + 2000, metadata: `{}`},
}

// insertFilterRows writes filterRows into a collection createCollection made.
func insertFilterRows(t *testing.T, uri, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client, err := milvusclient.New(ctx, &milvusclient.ClientConfig{Address: uri})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close(context.Background()) }()
	n := len(filterRows)
	columns := map[string][]string{}
	var vectors [][]float32
	var metadata [][]byte
	var pages, ends []int32
	var created []int64
	for i := range filterRows {
		r := &filterRows[i]
		decoder := json.NewDecoder(strings.NewReader(r.metadata))
		decoder.UseNumber()
		if err := decoder.Decode(&r.decodedMetadata); err != nil {
			t.Fatalf("metadata of %s: %v", r.doc, err)
		}
		pages, ends, created = append(pages, r.page), append(ends, r.pageEnd), append(created, r.created)
		text := "filter test chunk " + r.doc
		for field, value := range map[string]string{
			"chunk_id": r.tenant + "-" + r.doc, "doc_id": r.doc, "tenant": r.tenant, "title": r.tenant + "/" + r.doc,
			"text": text, "search_text": text, "version": "v1", "embedder": hashing.Name, "section": r.section,
		} {
			columns[field] = append(columns[field], value)
		}
		embedded, err := embed.NewHashing(dim).Embed(ctx, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		vectors = append(vectors, embedded[0])
		metadata = append(metadata, []byte(r.metadata))
	}
	insert := milvusclient.NewColumnBasedInsertOption(name).
		WithInt32Column("chunk", make([]int32, n)).
		WithInt32Column("page", pages).
		WithInt32Column("page_end", ends).
		WithFloatVectorColumn("dense", dim, vectors).
		WithColumns(column.NewColumnJSONBytes("metadata", metadata)).
		WithInt64Column("created_at", created).
		WithInt64Column("indexed_at", created)
	for field, values := range columns {
		insert = insert.WithVarcharColumn(field, values)
	}
	if _, err := client.Insert(ctx, insert); err != nil {
		t.Fatalf("inserting into %s: %v", name, err)
	}
}

// selected is the documents of tenant lit the filter selects in Milvus, sorted.
func selected(t *testing.T, store *Store, filter string) ([]string, string) {
	t.Helper()
	var f search.Filter
	if err := json.Unmarshal([]byte(filter), &f); err != nil {
		t.Fatal(err)
	}
	scope, err := f.Scope("lit")
	if err != nil {
		t.Fatalf("%s: %v", filter, err)
	}
	rows, err := store.Rows(t.Context(), scope, 1000)
	if err != nil {
		if errors.Is(err, search.ErrRejected) {
			t.Fatalf("Milvus rejected %s\n(%s): %v", filter, scope.Expression(), err)
		}
		t.Fatalf("%s (%s): %v", filter, scope.Expression(), err)
	}
	docs := []string{}
	for _, row := range rows {
		doc, ok := strings.CutPrefix(row.Title, "lit/")
		if !ok {
			t.Fatalf("%s (%s) selected %s, another tenant's chunk", filter, scope.Expression(), row.Title)
		}
		docs = append(docs, doc)
	}
	slices.Sort(docs)
	return docs, scope.Expression()
}

func TestFiltersInMilvus(t *testing.T) {
	t.Parallel()
	lite := startLite(t)
	createCollection(t, lite.uri(), "chunks", &hashing)
	insertFilterRows(t, lite.uri(), "chunks")
	store := newStore(t, lite.uri(), "chunks", 10*time.Second)
	all := []string{"d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"}
	without := func(docs ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(d string) bool { return slices.Contains(docs, d) })
	}

	cases := []struct {
		name, filter string
		want         []string
	}{
		{"no filter: the tenant's chunks only", `{}`, all},
		{"eq string", `{"lang": "en"}`, []string{"d1", "d4"}},
		{"eq is case-sensitive", `{"lang": "EN"}`, []string{}},
		{"eq number: not the string", `{"year": 2020}`, []string{"d1"}},
		{"eq string: not the number", `{"year": "2020"}`, []string{"d3"}},
		{"eq float, written as an integer", `{"year": 2020.0}`, []string{"d1"}},
		{"eq a big integer, exactly", `{"n": 9007199254740993}`, []string{"d7"}},
		{"eq bool", `{"draft": false}`, []string{"d1", "d8"}},
		{"eq hostile strings, literally", `{"lang": {"in": ["x\" or tenant != \"zzz", "a\\\" or 1==1 or \"\\", "日本 ) or (true"]}}`,
			[]string{"d6", "d7", "d8"}},
		{"ne: missing keys and nulls included", `{"year": {"ne": 2020}}`, without("d1")},
		{"ne bool", `{"draft": {"ne": false}}`, without("d1", "d8")},
		{"in", `{"year": [2020, "2020", 1999]}`, []string{"d1", "d3", "d8"}},
		{"nin: missing keys included", `{"lang": {"nin": ["en", "de"]}}`, without("d1", "d2", "d4")},
		{"gt: numbers only", `{"year": {"gt": 2000}}`, []string{"d1", "d2"}},
		{"gte", `{"year": {"gte": 2020}}`, []string{"d1", "d2"}},
		{"lt: negative numbers too", `{"year": {"lt": 2020}}`, []string{"d7", "d8"}},
		{"lte a float", `{"year": {"lte": 2021.5}}`, []string{"d1", "d2", "d7", "d8"}},
		{"a range", `{"year": {"gte": 2000, "lt": 2021}}`, []string{"d1"}},
		{"a range on a string-valued key matches nothing", `{"lang": {"gt": 0}}`, []string{}},
		{"exists: not null, not missing", `{"year": {"exists": true}}`, []string{"d1", "d2", "d3", "d7", "d8"}},
		{"exists false", `{"year": {"exists": false}}`, []string{"d4", "d5", "d6"}},
		{"exists on a nested object", `{"nested": {"exists": true}}`, []string{"d6"}},
		{"not eq: missing included", `{"not": {"lang": "en"}}`, without("d1", "d4")},
		{"not gte: missing or a smaller number (not the string)", `{"not": {"year": {"gte": 2020}}}`,
			[]string{"d4", "d5", "d6", "d7", "d8"}},
		{"not a range", `{"not": {"year": {"gte": 2000, "lt": 2021}}}`, []string{"d2", "d4", "d5", "d6", "d7", "d8"}},
		{"not not", `{"not": {"not": {"year": {"gte": 2020}}}}`, []string{"d1", "d2"}},
		{"not exists", `{"not": {"draft": {"exists": true}}}`, []string{"d3", "d4", "d5", "d6", "d7"}},
		{"and", `{"and": [{"year": {"gte": 2020}}, {"lang": {"in": ["en", "de"]}}]}`, []string{"d1", "d2"}},
		{"or", `{"or": [{"year": "2020"}, {"draft": true}]}`, []string{"d2", "d3"}},
		{"not or", `{"not": {"or": [{"lang": "en"}, {"year": {"exists": true}}]}}`, []string{"d5", "d6"}},
		{"not and", `{"not": {"and": [{"lang": "en"}, {"draft": false}]}}`, without("d1")},
		{"tenant is a metadata key", `{"or": [{"tenant": "other"}, {"tenant": {"ne": "lit"}}]}`, all},
		{"tenant, explicitly", `{"metadata": {"tenant": "other"}}`, []string{"d8"}},
		{"document_id", `{"document_id": "d1"}`, []string{"d1"}},
		{"document_id ne", `{"document_id": {"ne": "d1"}}`, without("d1")},
		{"document_id in", `{"document_id": ["d1", "d2", "o2"]}`, []string{"d1", "d2"}},
		{"document_id nin", `{"document_id": {"nin": ["d1", "d2"]}}`, without("d1", "d2")},
		{"section", `{"section": "Body \"quoted\""}`, []string{"d5"}},
		{"section with a backslash", `{"section": "a\\b"}`, []string{"d7"}},
		{"section ne", `{"section": {"ne": "Intro"}}`, without("d1", "d8")},
		{"section exists", `{"section": {"exists": false}}`, []string{"d3"}},
		{"page: chunks whose pages include it", `{"page": 2}`, []string{"d1", "d6"}},
		{"page in", `{"page": [3, 7]}`, []string{"d2", "d4", "d6"}},
		{"page ne: chunks without pages included", `{"page": {"ne": 2}}`, without("d1", "d6")},
		{"page nin", `{"page": {"nin": [2, 3]}}`, without("d1", "d2", "d6")},
		{"page gt: a page after", `{"page": {"gt": 8}}`, []string{"d4", "d5", "d7"}},
		{"page gte", `{"page": {"gte": 10}}`, []string{"d5", "d7"}},
		{"page lt: a page before, not chunks without pages", `{"page": {"lt": 3}}`, []string{"d1", "d6"}},
		{"page lte", `{"page": {"lte": 3}}`, []string{"d1", "d2", "d6"}},
		{"pages 4 to 6: the chunks overlapping them", `{"page": {"gte": 4, "lte": 6}}`, []string{"d4", "d6"}},
		{"not pages 4 to 6", `{"not": {"page": {"gte": 4, "lte": 6}}}`, without("d4", "d6")},
		{"page exists", `{"page": {"exists": false}}`, []string{"d3", "d8"}},
		{"updated_at", `{"updated_at": "2024-05-01T12:00:01Z"}`, []string{"d2"}},
		{"updated_at to the millisecond", `{"updated_at": "2024-05-01T12:00:01.000999Z"}`, []string{"d2"}},
		{"updated_at gte, another offset", `{"updated_at": {"gte": "2024-05-01T14:00:06+02:00"}}`, []string{"d7", "d8"}},
		{"updated_at a range", `{"updated_at": {"gt": "2024-05-01T12:00:00Z", "lte": "2024-05-01T12:00:02Z"}}`, []string{"d2", "d3"}},
		{"updated_at nin", `{"updated_at": {"nin": ["2024-05-01T12:00:00Z"]}}`, without("d1")},
		{"everything at once", `{"lang": {"exists": true}, "page": {"gte": 1}, "or": [{"year": {"lt": 2021}}, {"section": "Body"}], "not": {"document_id": "d7"}}`,
			[]string{"d1", "d4", "d6"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, expr := selected(t, store, tc.filter)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s\n(%s)\nselected %v, want %v", tc.filter, expr, got, tc.want)
			}
			if reference := referenceSelect(t, tc.filter); !slices.Equal(reference, tc.want) {
				t.Errorf("%s: the reference evaluation selects %v, want %v", tc.filter, reference, tc.want)
			}
		})
	}

	t.Run("generated filters: never refused, and as documented", func(t *testing.T) {
		random := rand.New(rand.NewPCG(20240501, 7))
		const n = 300
		for i := range n {
			filter := generateFilter(random)
			got, expr := selected(t, store, filter)
			if want := referenceSelect(t, filter); !slices.Equal(got, want) {
				t.Fatalf("generated filter %d: %s\n(%s)\nMilvus selects %v, the documented semantics %v", i, filter, expr, got, want)
			}
		}
	})
}

// referenceSelect evaluates the filter on the tenant's rows as documented, in Kleene's
// three-valued logic: a missing key is a definite answer (eq false, ne true), while a range
// on a value that is not a number is unknown, and so is its negation (a chunk never matches
// either); a chunk matches when the filter is true.
func referenceSelect(t *testing.T, filter string) []string {
	t.Helper()
	var parsed map[string]any
	decoder := json.NewDecoder(strings.NewReader(filter))
	decoder.UseNumber()
	if err := decoder.Decode(&parsed); err != nil {
		t.Fatal(err)
	}
	docs := []string{}
	for _, r := range filterRows {
		if r.tenant == "lit" && r.object(parsed) == yes {
			docs = append(docs, r.doc)
		}
	}
	slices.Sort(docs)
	return docs
}

type tri int8 // no < unknown < yes: and is min, or is max, not is 2-x

const (
	no tri = iota
	unknown
	yes
)

func truth(b bool) tri {
	if b {
		return yes
	}
	return no
}

func (r filterRow) object(filter map[string]any) tri {
	result := yes
	for key, value := range filter {
		var v tri
		switch key {
		case "and", "or":
			v = truth(key == "and")
			for _, item := range value.([]any) {
				if key == "and" {
					v = min(v, r.object(item.(map[string]any)))
				} else {
					v = max(v, r.object(item.(map[string]any)))
				}
			}
		case "not":
			v = 2 - r.object(value.(map[string]any))
		case "metadata":
			v = yes
			for k, condition := range value.(map[string]any) {
				v = min(v, r.condition(k, condition, true))
			}
		default:
			v = r.condition(key, value, false)
		}
		result = min(result, v)
	}
	return result
}

func (r filterRow) condition(key string, condition any, metadata bool) tri {
	switch c := condition.(type) {
	case []any:
		return r.leaf(key, "in", c, metadata)
	case map[string]any:
		v := yes
		for op, value := range c {
			v = min(v, r.leaf(key, op, value, metadata))
		}
		return v
	}
	return r.leaf(key, "eq", condition, metadata)
}

func (r filterRow) leaf(key, op string, value any, metadata bool) tri {
	switch op {
	case "ne":
		return 2 - r.leaf(key, "eq", value, metadata)
	case "nin":
		return 2 - r.leaf(key, "in", value, metadata)
	case "in":
		v := no
		for _, item := range value.([]any) {
			v = max(v, r.leaf(key, "eq", item, metadata))
		}
		return v
	}
	if !metadata {
		switch key {
		case "document_id":
			return truth(r.doc == value)
		case "section":
			if op == "exists" {
				return truth((r.section != "") == value)
			}
			return truth(r.section == value)
		case "page":
			if op == "exists" {
				return truth((r.page >= 1) == value)
			}
			n, _ := value.(json.Number).Int64()
			page, end := int64(r.page), int64(r.pageEnd)
			return truth(map[string]bool{
				"eq": page <= n && n <= end && page >= 1, "gt": end > n, "gte": end >= n,
				"lt": page >= 1 && page < n, "lte": page >= 1 && page <= n,
			}[op])
		case "updated_at":
			at, _ := time.Parse(time.RFC3339Nano, value.(string))
			return compare(op, big.NewRat(r.created, 1), big.NewRat(at.UnixMilli(), 1))
		}
	}
	stored, present := r.decodedMetadata[key]
	present = present && stored != nil
	switch op {
	case "exists":
		return truth(present == value)
	case "eq":
		if !present {
			return no
		}
		if number, ok := value.(json.Number); ok {
			s, isNumber := stored.(json.Number)
			return truth(isNumber && rat(s).Cmp(rat(number)) == 0)
		}
		return truth(stored == value)
	}
	if !present { // a range
		return no
	}
	s, isNumber := stored.(json.Number)
	if !isNumber {
		return unknown
	}
	return compare(op, rat(s), rat(value.(json.Number)))
}

func compare(op string, stored, value *big.Rat) tri {
	c := stored.Cmp(value)
	return truth(map[string]bool{"eq": c == 0, "gt": c > 0, "gte": c >= 0, "lt": c < 0, "lte": c <= 0}[op])
}

func rat(n json.Number) *big.Rat {
	r, ok := new(big.Rat).SetString(n.String())
	if !ok {
		panic("not a number: " + n)
	}
	return r
}

// generateFilter is a random valid filter over the rows' keys and values, hostile strings
// included.
func generateFilter(random *rand.Rand) string {
	raw, err := json.Marshal(generateObject(random, 0))
	if err != nil {
		panic(err)
	}
	return string(raw)
}

func generateObject(random *rand.Rand, depth int) map[string]any {
	object := map[string]any{}
	for range 1 + random.IntN(3) {
		switch roll := random.IntN(10); {
		case roll < 2 && depth < 4:
			op := []string{"and", "or"}[random.IntN(2)]
			items := make([]any, 1+random.IntN(3))
			for i := range items {
				items[i] = generateObject(random, depth+1)
			}
			object[op] = items
		case roll < 3 && depth < 4:
			object["not"] = generateObject(random, depth+1)
		default:
			key := []string{"year", "lang", "draft", "n", "tenant", "nested", "absent", "document_id", "section", "page", "updated_at"}[random.IntN(11)]
			condition := generateCondition(random, key)
			if random.IntN(4) == 0 && !slices.Contains([]string{"document_id", "section", "page", "updated_at"}, key) {
				object["metadata"] = map[string]any{key: condition}
			} else {
				object[key] = condition
			}
		}
	}
	return object
}

func generateCondition(random *rand.Rand, key string) any {
	scalars := map[string][]any{
		"year":        {json.Number("2020"), json.Number("2021.5"), "2020", json.Number("-5"), json.Number("1999"), json.Number("2000.0"), json.Number("3e3")},
		"lang":        {"en", "de", "fr", "EN", `x" or tenant != "zzz`, `a\" or 1==1 or "\`, "日本 ) or (true", `'`, "", `\`},
		"draft":       {true, false},
		"n":           {json.Number("9007199254740993"), json.Number("9007199254740992")},
		"tenant":      {"other", "lit", `lit" or tenant == "other`},
		"nested":      {"a", json.Number("1")},
		"absent":      {"x", json.Number("0")},
		"document_id": {"d1", "d2", "d5", "o2", "d7"},
		"section":     {"Intro", "Body", `Body "quoted"`, `a\b`, "Intro > Setup"},
		"page":        {json.Number("1"), json.Number("2"), json.Number("3"), json.Number("5"), json.Number("9"), json.Number("12")},
	}
	var times []any
	for _, offset := range []int64{-1, 0, 999, 1000, 3500, 7000, 8000} {
		times = append(times, time.UnixMilli(epoch+offset).UTC().Format(time.RFC3339Nano))
	}
	scalars["updated_at"] = times
	numbers := map[string][]any{"page": scalars["page"], "updated_at": times,
		"default": {json.Number("0"), json.Number("1999"), json.Number("2020"), json.Number("2021.5"), json.Number("-10"), json.Number("9007199254740992")}}
	pick := func(from []any) any { return from[random.IntN(len(from))] }
	list := func() []any {
		items := make([]any, 1+random.IntN(3))
		for i := range items {
			items[i] = pick(scalars[key])
		}
		return items
	}
	switch random.IntN(3) {
	case 0:
		return pick(scalars[key])
	case 1:
		return list()
	}
	ranged := numbers["default"]
	if values, ok := numbers[key]; ok {
		ranged = values
	}
	ops := map[string]any{}
	for range 1 + random.IntN(2) {
		op := []string{"eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "exists"}[random.IntN(9)]
		switch {
		case op == "in" || op == "nin":
			ops[op] = list()
		case op == "exists":
			if key == "document_id" || key == "updated_at" {
				continue
			}
			ops[op] = random.IntN(2) == 0
		case op == "eq" || op == "ne":
			ops[op] = pick(scalars[key])
		case key == "document_id" || key == "section":
			continue // strings: no ranges
		case key == "draft":
			continue // milvus-lite compares booleans as the numbers 0 and 1 (Python's bool is an int)
		default:
			ops[op] = pick(ranged)
		}
	}
	if len(ops) == 0 {
		return pick(scalars[key])
	}
	return ops
}
