package milvus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"sluice.dev/searchapi/internal/embed"
	"sluice.dev/searchapi/internal/search"
)

// These tests run the store against a real milvus-lite server (skipped under -short).

// admin is a client of the server for the test's own changes (aliases), closed when it ends.
func admin(t *testing.T, uri string) *milvusclient.Client {
	t.Helper()
	client, err := milvusclient.New(t.Context(), &milvusclient.ClientConfig{Address: uri})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close(context.Background()) })
	return client
}

func current(t *testing.T, store *Store) search.Collection {
	t.Helper()
	collection, err := store.Current(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return collection
}

func TestStoreFollowsTheAlias(t *testing.T) {
	t.Parallel()
	lite := startLite(t)
	// Two builds of the index, one per model, as a model change makes them; the vectors are
	// the hashing embedder's in both, the records differ, and the second lacks acme's stars
	// (so that which collection a call read shows).
	model := embed.Identity{Name: "multilingual-e5-small", Dim: dim, Version: "v4"}
	createCollection(t, lite.uri(), "sluice_chunks__v1_hashing_64", &hashing)
	createCollection(t, lite.uri(), "sluice_chunks__v4_e5_64", &model)
	client := admin(t, lite.uri())
	if _, err := client.Delete(t.Context(), milvusclient.NewDeleteOption("sluice_chunks__v4_e5_64").
		WithStringIDs("chunk_id", []string{"acme-stars-0"})); err != nil {
		t.Fatal(err)
	}
	if err := client.CreateAlias(t.Context(),
		milvusclient.NewCreateAliasOption("sluice_chunks__v1_hashing_64", "sluice_chunks")); err != nil {
		t.Fatal(err)
	}
	store := newStore(t, lite.uri(), "sluice_chunks", 0)
	acme := scope(t, "acme", search.Filter{})
	page := search.Page{Limit: 3}
	const query = "water mill river"

	first := current(t, store)
	if first.Name != "sluice_chunks__v1_hashing_64" || first.Embedder != hashing {
		t.Fatalf("Current = %+v, want the first collection and its embedder %+v", first, hashing)
	}
	hits, err := store.Dense(t.Context(), acme.In(first), queryVector(t, query, first.Embedder), page)
	if err != nil || len(hits) == 0 || hits[0].DocumentID != "mill" {
		t.Fatalf("dense in the first collection: %v, %v", documents(hits), err)
	}

	// The switch: the alias names the second collection.
	if err := client.AlterAlias(t.Context(),
		milvusclient.NewAlterAliasOption("sluice_chunks", "sluice_chunks__v4_e5_64")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(refreshEvery + 100*time.Millisecond)
	second := current(t, store)
	if second.Name != "sluice_chunks__v4_e5_64" || second.Embedder != model {
		t.Fatalf("Current after the switch = %+v, want the second collection and its embedder %+v", second, model)
	}

	// A search reads the collection its scope names, whatever the alias names by now: a
	// vector of the first collection's embedder is refused by the second's record, and still
	// searches the first.
	_, err = store.Dense(t.Context(), acme.In(second), queryVector(t, query, first.Embedder), page)
	if !errors.Is(err, search.ErrEmbedderMismatch) || !strings.Contains(err.Error(), "sluice_chunks__v4_e5_64") {
		t.Fatalf("a vector of %+v in the second collection: %v, want ErrEmbedderMismatch", first.Embedder, err)
	}
	if hits, err := store.Dense(t.Context(), acme.In(first), queryVector(t, query, first.Embedder), page); err != nil || len(hits) == 0 {
		t.Fatalf("dense in the first collection after the switch: %v, %v", documents(hits), err)
	}
	for _, tc := range []struct {
		in   search.Collection
		docs int // acme's
	}{{first, 3}, {second, 2}} {
		if hits, err := store.Dense(t.Context(), acme.In(tc.in), queryVector(t, query, tc.in.Embedder), page); err != nil || len(hits) != tc.docs {
			t.Fatalf("dense in %s with its own embedder: %v, %v; want %d hits", tc.in.Name, documents(hits), err, tc.docs)
		}
		if count, err := store.Count(t.Context(), acme.In(tc.in)); err != nil || count != int64(tc.docs) {
			t.Fatalf("count in %s: %d, %v; want %d", tc.in.Name, count, err, tc.docs)
		}
		if rows, err := store.Rows(t.Context(), acme.In(tc.in), 10); err != nil || len(rows) != tc.docs {
			t.Fatalf("rows in %s: %d, %v; want %d", tc.in.Name, len(rows), err, tc.docs)
		}
		if hits, err := store.Text(t.Context(), acme.In(tc.in), english.Analyze(query), page); err != nil || len(hits) == 0 {
			t.Fatalf("text in %s: %v, %v", tc.in.Name, documents(hits), err)
		}
	}
	// A scope of no collection (a document lookup's) reads the one the alias names.
	if count, err := store.Count(t.Context(), acme); err != nil || count != 2 {
		t.Fatalf("count through the alias after the switch: %d, %v; want the second collection's 2", count, err)
	}
	if err := store.Ping(t.Context()); err != nil {
		t.Fatalf("ping of an alias: %v", err)
	}
}

func TestStoreResolvesACollectionWithoutAlias(t *testing.T) {
	t.Parallel()
	lite := startLite(t)
	createCollection(t, lite.uri(), "sluice_chunks", &hashing)
	acme := scope(t, "acme", search.Filter{})

	store := newStore(t, lite.uri(), "sluice_chunks", 0)
	found := current(t, store)
	if found.Name != "sluice_chunks" || found.Embedder != hashing {
		t.Fatalf("Current = %+v, want the collection named like the alias, of %+v", found, hashing)
	}
	hits, err := store.Dense(t.Context(), acme.In(found), queryVector(t, "water mill", found.Embedder), search.Page{Limit: 3})
	if err != nil || len(hits) == 0 {
		t.Fatalf("dense in %s: %v, %v", found.Name, documents(hits), err)
	}

	// Nothing indexed yet: neither an alias nor a collection of the name.
	nothing := newStore(t, lite.uri(), "nothing", 0)
	if none := current(t, nothing); none != (search.Collection{}) {
		t.Fatalf("Current with neither an alias nor a collection = %+v, want Name \"\"", none)
	}
	if err := nothing.Ping(t.Context()); !errors.Is(err, search.ErrRejected) || !strings.Contains(err.Error(), "does not exist yet") {
		t.Fatalf("ping with nothing indexed: %v", err)
	}
	// …until the index function makes the collection (read again after refreshEvery).
	createCollection(t, lite.uri(), "nothing", &hashing)
	time.Sleep(refreshEvery + 100*time.Millisecond)
	if made := current(t, nothing); made.Name != "nothing" || made.Embedder != hashing {
		t.Fatalf("Current once the collection exists = %+v", made)
	}
}
