package milvus

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"sluice.dev/searchapi/internal/analysis"
	"sluice.dev/searchapi/internal/embed"
	"sluice.dev/searchapi/internal/search"
)

// These tests run the store against a real milvus-lite server (skipped under -short).

const dim = 64

var hashing = embed.Identity{Name: "hashing", Dim: dim, Version: "1"}

// english is the analyser the test collections' text is analysed with.
var english = mustAnalyzer("english")

func mustAnalyzer(language string) *analysis.Analyzer {
	analyzer, err := analysis.New(language)
	if err != nil {
		panic(err)
	}
	return analyzer
}

// chunk is one row of the test collection: a document's only chunk, on a page of its file
// (0: none) and in a section.
type chunk struct {
	tenant, doc, text string
	page              int32
	section           string
}

var chunks = []chunk{
	{"acme", "mill", "The water mill grinds grain with the power of the river.", 3, "Mills > Water"},
	{"acme", "bees", "Bees make honey from the nectar of flowers in the meadow.", 0, ""},
	{"acme", "stars", "Astronomers count the stars of distant galaxies at night.", 0, ""},
	{"globex", "mill", "Another tenant's water mill on another river.", 3, "Mills > Water"},
}

// createCollection makes a collection with the index function's schema
// (shared/sluice/stores/milvus.py, ChunkStore._create), recording `recorded` as its embedder
// (nil: no record) and the English analyser, and writes the chunks into it, embedded by the
// hashing embedder.
func createCollection(t *testing.T, uri, name string, recorded *embed.Identity) {
	t.Helper()
	identity := english.Identity()
	createRecording(t, uri, name, recorded, &identity)
}

// createRecording is createCollection recording the analyser `analysed` (nil: no record);
// the text is analysed as English either way.
func createRecording(t *testing.T, uri, name string, recorded *embed.Identity, analysed *analysis.Identity) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client, err := milvusclient.New(ctx, &milvusclient.ClientConfig{Address: uri})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close(context.Background()) }()
	varchar := func(name string, length int64) *entity.Field {
		return entity.NewField().WithName(name).WithDataType(entity.FieldTypeVarChar).WithMaxLength(length)
	}
	schema := entity.NewSchema().WithAutoID(false).WithDynamicFieldEnabled(false).
		WithField(varchar("chunk_id", 64).WithIsPrimaryKey(true)).
		WithField(varchar("doc_id", 256)).
		WithField(varchar("tenant", 64).WithIsPartitionKey(true)).
		WithField(entity.NewField().WithName("chunk").WithDataType(entity.FieldTypeInt32)).
		WithField(entity.NewField().WithName("page").WithDataType(entity.FieldTypeInt32)).
		WithField(entity.NewField().WithName("page_end").WithDataType(entity.FieldTypeInt32)).
		WithField(varchar("section", 4096)).
		WithField(varchar("title", 4096)).
		WithField(varchar("text", 65535)).
		WithField(varchar("search_text", 65535).WithEnableAnalyzer(true).
			WithAnalyzerParams(map[string]any{"tokenizer": "standard", "filter": []string{"lowercase"}})).
		WithField(entity.NewField().WithName("sparse").WithDataType(entity.FieldTypeSparseVector)).
		WithField(entity.NewField().WithName("dense").WithDataType(entity.FieldTypeFloatVector).WithDim(dim)).
		WithField(entity.NewField().WithName("metadata").WithDataType(entity.FieldTypeJSON)).
		WithField(varchar("version", 64)).
		WithField(varchar("embedder", 128)).
		WithField(entity.NewField().WithName("created_at").WithDataType(entity.FieldTypeInt64)).
		WithField(entity.NewField().WithName("indexed_at").WithDataType(entity.FieldTypeInt64)).
		WithFunction(entity.NewFunction().WithName("text_bm25").WithType(entity.FunctionTypeBM25).
			WithInputFields("search_text").WithOutputFields("sparse"))
	option := milvusclient.NewCreateCollectionOption(name, schema).WithNumPartitions(4).WithIndexOptions(
		milvusclient.NewCreateIndexOption(name, "dense", index.NewHNSWIndex(entity.COSINE, 16, 200)),
		milvusclient.NewCreateIndexOption(name, "sparse", index.NewSparseInvertedIndex(entity.BM25, 0)),
	)
	if recorded != nil {
		raw, err := json.Marshal(recorded)
		if err != nil {
			t.Fatal(err)
		}
		option = option.WithProperty(embedderProperty, string(raw))
	}
	if analysed != nil {
		raw, err := json.Marshal(analysed)
		if err != nil {
			t.Fatal(err)
		}
		option = option.WithProperty(analyzerProperty, string(raw))
	}
	if err := client.CreateCollection(ctx, option); err != nil {
		t.Fatalf("creating collection %s: %v", name, err)
	}

	n := len(chunks)
	columns := map[string][]string{}
	var vectors [][]float32
	var metadata [][]byte
	var pages []int32
	for _, c := range chunks {
		pages = append(pages, c.page)
		for field, value := range map[string]string{
			"chunk_id": c.tenant + "-" + c.doc + "-0", "doc_id": c.doc, "tenant": c.tenant,
			"title": c.doc, "text": c.text, "search_text": english.Analyze(c.doc + "\n" + c.text),
			"version": "v1", "embedder": hashing.Name, "section": c.section,
		} {
			columns[field] = append(columns[field], value)
		}
		embedded, err := embed.NewHashing(dim).Embed(ctx, []string{c.text})
		if err != nil {
			t.Fatal(err)
		}
		vectors = append(vectors, embedded[0])
		metadata = append(metadata, []byte(`{"lang": "en"}`))
	}
	insert := milvusclient.NewColumnBasedInsertOption(name).
		WithInt32Column("chunk", make([]int32, n)).
		WithInt32Column("page", pages).
		WithInt32Column("page_end", pages).
		WithFloatVectorColumn("dense", dim, vectors).
		WithColumns(column.NewColumnJSONBytes("metadata", metadata)).
		WithInt64Column("created_at", make([]int64, n)).
		WithInt64Column("indexed_at", make([]int64, n))
	for field, values := range columns {
		insert = insert.WithVarcharColumn(field, values)
	}
	if _, err := client.Insert(ctx, insert); err != nil {
		t.Fatalf("inserting into %s: %v", name, err)
	}
}

// newStore is a store of the alias (or collection) whose calls take at most timeout (5 s
// when 0).
func newStore(t *testing.T, uri, alias string, timeout time.Duration) *Store {
	t.Helper()
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	store := New(uri, "", alias, english.Identity(), timeout, nil)
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	return store
}

func scope(t *testing.T, tenant string, filter search.Filter) search.Scope {
	t.Helper()
	s, err := filter.Scope(tenant)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func queryVector(t *testing.T, text string, identity embed.Identity) search.Vector {
	t.Helper()
	embedded, err := embed.NewHashing(dim).Embed(t.Context(), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	return search.Vector{Values: embedded[0], Embedder: identity}
}

func scores(hits []search.Hit) []float32 {
	var all []float32
	for _, hit := range hits {
		all = append(all, hit.Score)
	}
	return all
}

func documents(hits []search.Hit) []string {
	var docs []string
	for _, hit := range hits {
		docs = append(docs, hit.DocumentID)
	}
	return docs
}

func TestStore(t *testing.T) {
	t.Parallel()
	lite := startLite(t)
	createCollection(t, lite.uri(), "chunks", &hashing)
	store := newStore(t, lite.uri(), "chunks", 0)
	acme := scope(t, "acme", search.Filter{})
	page := search.Page{Limit: 3}
	const query = "water mill river"

	searches := []struct {
		mode string
		run  func(ctx context.Context) ([]search.Hit, error)
	}{
		{search.ModeDense, func(ctx context.Context) ([]search.Hit, error) {
			return store.Dense(ctx, acme, queryVector(t, query, hashing), page)
		}},
		{search.ModeText, func(ctx context.Context) ([]search.Hit, error) {
			return store.Text(ctx, acme, english.Analyze(query), page)
		}},
	}
	// The collection is not loaded yet: the first search loads it and retries.
	for _, tc := range searches {
		t.Run("search "+tc.mode, func(t *testing.T) {
			hits, err := tc.run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) == 0 || hits[0].DocumentID != "mill" || hits[0].ChunkID != "acme-mill-0" {
				t.Fatalf("hits %v, want acme's mill first", documents(hits))
			}
			for i, hit := range hits {
				// higher is better in both modes: BM25 scores are positive (milvus-lite
				// answers them negated)
				if tc.mode == search.ModeText && hit.Score <= 0 || i > 0 && hit.Score > hits[i-1].Score {
					t.Fatalf("scores %v are not positive and best first", scores(hits))
				}
			}
			for _, hit := range hits {
				if hit.ChunkID == "globex-mill-0" {
					t.Fatal("a hit of another tenant")
				}
			}
			var metadata map[string]string
			if hit := hits[0]; !strings.Contains(hit.Text, "water mill") || hit.Title != "mill" ||
				json.Unmarshal(hit.Metadata, &metadata) != nil || metadata["lang"] != "en" {
				t.Fatalf("hit %+v, metadata %s", hit, hit.Metadata)
			}
			if c := hits[0].Citation; c.Page == nil || *c.Page != 3 || c.PageEnd == nil || *c.PageEnd != 3 || c.Section != "Mills > Water" {
				t.Fatalf("citation %+v", c)
			}
			for _, hit := range hits[1:] {
				if hit.Page != nil || hit.PageEnd != nil || hit.Section != "" {
					t.Fatalf("a chunk without pages or section cites %+v", hit.Citation)
				}
			}
		})
	}

	t.Run("offset pages", func(t *testing.T) {
		first, err := store.Text(t.Context(), acme, query, search.Page{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		second, err := store.Text(t.Context(), acme, query, search.Page{Limit: 1, Offset: 1})
		if err != nil || len(first) != 1 || len(second) > 1 || len(second) == 1 && second[0].ChunkID == first[0].ChunkID {
			t.Fatalf("pages %v then %v (%v)", documents(first), documents(second), err)
		}
	})

	t.Run("count", func(t *testing.T) {
		for _, tc := range []struct {
			scope search.Scope
			want  int64
		}{
			{acme, 3},
			{scope(t, "acme", search.Filter{DocumentID: json.RawMessage(`"mill"`)}), 1},
			{scope(t, "acme", search.Filter{Page: json.RawMessage(`[2, 3]`)}), 1},
			{scope(t, "acme", search.Filter{Page: json.RawMessage(`4`)}), 0},
			{scope(t, "acme", search.Filter{Section: json.RawMessage(`"Mills > Water"`)}), 1},
			{scope(t, "globex", search.Filter{}), 1},
			{scope(t, "initech", search.Filter{}), 0},
		} {
			if got, err := store.Count(t.Context(), tc.scope); err != nil || got != tc.want {
				t.Errorf("count in %q = %d, %v; want %d", tc.scope.Expression(), got, err, tc.want)
			}
		}
	})

	t.Run("a released collection is loaded again", func(t *testing.T) {
		client, err := milvusclient.New(t.Context(), &milvusclient.ClientConfig{Address: lite.uri()})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = client.Close(context.Background()) }()
		if err := client.ReleaseCollection(t.Context(), milvusclient.NewReleaseCollectionOption("chunks")); err != nil {
			t.Fatal(err)
		}
		if hits, err := store.Text(t.Context(), acme, query, page); err != nil || len(hits) == 0 {
			t.Fatalf("after a release: %v, %v", documents(hits), err)
		}
	})

	t.Run("ping", func(t *testing.T) {
		if err := store.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
		err := newStore(t, lite.uri(), "missing", 0).Ping(t.Context())
		if !errors.Is(err, search.ErrRejected) || !strings.Contains(err.Error(), "does not exist yet") {
			t.Fatalf("ping of a missing collection: %v", err)
		}
	})

	t.Run("a search Milvus refuses", func(t *testing.T) {
		_, err := newStore(t, lite.uri(), "missing", 0).Text(t.Context(), acme, query, page)
		if !errors.Is(err, search.ErrRejected) || errors.Is(err, search.ErrMilvusUnavailable) {
			t.Fatalf("a search of a missing collection: %v, want ErrRejected", err)
		}
	})
}

func TestStoreComparesEmbedders(t *testing.T) {
	t.Parallel()
	lite := startLite(t)
	createCollection(t, lite.uri(), "chunks", &hashing)
	createCollection(t, lite.uri(), "unrecorded", nil)
	acme := scope(t, "acme", search.Filter{})
	page := search.Page{Limit: 3}
	unknownVersion := embed.Identity{Name: hashing.Name, Dim: dim}
	otherVersion := embed.Identity{Name: hashing.Name, Dim: dim, Version: "2"}
	model := embed.Identity{Name: "all-MiniLM-L6-v2", Dim: dim}

	text := func(s *Store) error { _, err := s.Text(t.Context(), acme, "water", page); return err }
	count := func(s *Store) error { _, err := s.Count(t.Context(), acme); return err }
	current := func(s *Store) error { _, err := s.Current(t.Context()); return err }

	// Only a dense search compares embedders (its vector's with the collection's record): text
	// searches, counts and pings compare none (there is no configured embedder any more: the
	// collection names it).
	cases := []struct {
		name       string
		collection string
		run        func(*Store) error
		mismatch   string // a part of the mismatch error; empty: no error
	}{
		{name: "dense with the recorded identity", collection: "chunks", run: dense(t, acme, page, hashing)},
		{name: "dense with an unknown version", collection: "chunks", run: dense(t, acme, page, unknownVersion)},
		{name: "dense with another version", collection: "chunks",
			run: dense(t, acme, page, otherVersion), mismatch: "Version:2"},
		{name: "dense with another model", collection: "chunks",
			run: dense(t, acme, page, model), mismatch: "{Name:hashing Dim:64 Version:1} but the query was embedded with {Name:all-MiniLM-L6-v2"},
		{name: "text compares no embedder", collection: "chunks", run: text},
		{name: "a count compares no embedder", collection: "unrecorded", run: count},
		{name: "a ping compares no embedder", collection: "unrecorded", run: func(s *Store) error { return s.Ping(t.Context()) }},
		{name: "a collection that does not record its embedder", collection: "unrecorded",
			run: dense(t, acme, page, hashing), mismatch: "does not record its embedder"},
		{name: "the current collection does not record its embedder", collection: "unrecorded",
			run: current, mismatch: "does not record its embedder"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.run(newStore(t, lite.uri(), tc.collection, 0))
			switch {
			case tc.mismatch == "" && err != nil:
				t.Fatal(err)
			case tc.mismatch != "" && (!errors.Is(err, search.ErrEmbedderMismatch) || !strings.Contains(err.Error(), tc.mismatch)):
				t.Fatalf("got %v, want a mismatch mentioning %q", err, tc.mismatch)
			}
		})
	}

	t.Run("one store, queries of two identities", func(t *testing.T) {
		t.Parallel()
		store := newStore(t, lite.uri(), "chunks", 0)
		for _, step := range []struct {
			identity embed.Identity
			mismatch bool
		}{{hashing, false}, {otherVersion, true}, {unknownVersion, false}, {hashing, false}} {
			err := dense(t, acme, page, step.identity)(store)
			if errors.Is(err, search.ErrEmbedderMismatch) != step.mismatch || err != nil && !step.mismatch {
				t.Fatalf("dense with %+v: %v, want a mismatch: %v", step.identity, err, step.mismatch)
			}
		}
	})
}

func dense(t *testing.T, scope search.Scope, page search.Page, identity embed.Identity) func(*Store) error {
	return func(s *Store) error {
		_, err := s.Dense(t.Context(), scope, queryVector(t, "water", identity), page)
		return err
	}
}

func TestStoreComparesAnalyzers(t *testing.T) {
	t.Parallel()
	lite := startLite(t)
	none := mustAnalyzer("none").Identity()
	createRecording(t, lite.uri(), "unanalysed", &hashing, nil)
	createRecording(t, lite.uri(), "words", &hashing, &none)
	acme := scope(t, "acme", search.Filter{})
	page := search.Page{Limit: 3}
	for collection, mismatch := range map[string]string{
		"unanalysed": "does not record its text analyser",
		"words":      `{Language:none Version:`,
	} {
		t.Run(collection, func(t *testing.T) {
			t.Parallel()
			store := newStore(t, lite.uri(), collection, 0)
			_, err := store.Text(t.Context(), acme, "water", page)
			if !errors.Is(err, search.ErrAnalyzerMismatch) || !strings.Contains(err.Error(), mismatch) {
				t.Fatalf("text search: %v, want an analyser mismatch mentioning %q", err, mismatch)
			}
			if err := dense(t, acme, page, hashing)(store); err != nil {
				t.Fatalf("a dense search needs no analyser: %v", err)
			}
		})
	}
}

func TestStoreReconnectsAfterARestart(t *testing.T) {
	t.Parallel()
	lite := startLite(t)
	createCollection(t, lite.uri(), "chunks", &hashing)
	store := newStore(t, lite.uri(), "chunks", 2*time.Second) // down is 2 s per call
	acme := scope(t, "acme", search.Filter{})
	denseSearch := func() error {
		return dense(t, acme, search.Page{Limit: 3}, hashing)(store)
	}
	if err := denseSearch(); err != nil {
		t.Fatal(err)
	}

	lite.kill()
	if err := denseSearch(); !errors.Is(err, search.ErrMilvusUnavailable) {
		t.Fatalf("with milvus down: %v, want ErrMilvusUnavailable", err)
	}
	if err := store.Ping(t.Context()); !errors.Is(err, search.ErrMilvusUnavailable) {
		t.Fatalf("ping with milvus down: %v, want ErrMilvusUnavailable", err)
	}

	// Same port, same data: the store reconnects by itself, and loads the collection the
	// restarted server left released.
	lite.start()
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = denseSearch(); err == nil {
			break
		}
		if !errors.Is(err, search.ErrMilvusUnavailable) {
			t.Fatalf("after the restart: %v, want ErrMilvusUnavailable until it answers", err)
		}
	}
	if err != nil {
		t.Fatalf("the store did not recover within 20 s of the restart: %v\n%s", err, lite.output())
	}
}
