package search

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
)

// Record is a document's status as the pipeline last wrote it.
type Record struct {
	ID         string  `json:"id"`
	Tenant     string  `json:"tenant"`
	Version    string  `json:"version"`
	Status     string  `json:"status"`
	Chunks     int     `json:"chunks"`
	Error      *string `json:"error"`
	CreatedAt  string  `json:"created_at"`
	AcceptedAt string  `json:"accepted_at"`
	UpdatedAt  string  `json:"updated_at"`
	IndexedAt  string  `json:"indexed_at,omitempty"`
}

// Document is a document's record plus the number of its chunks in Milvus now.
type Document struct {
	Record
	IndexedChunks int64 `json:"indexed_chunks"`
}

// Document looks up one of the tenant's documents and counts its indexed chunks.
func (s *Service) Document(ctx context.Context, tenant, id string) (*Document, error) {
	scope, err := documentScope(tenant, id)
	if err != nil {
		return nil, err
	}
	record, err := s.records.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	count, err := s.chunks.Count(ctx, scope)
	if err != nil {
		return nil, err
	}
	return &Document{Record: record, IndexedChunks: count}, nil
}

// Chunk is one stored chunk of a document, as the detail view shows it.
type Chunk struct {
	Chunk    int64           `json:"chunk"`
	Title    string          `json:"title"`
	Text     string          `json:"text"`
	Version  string          `json:"version"`
	Metadata json.RawMessage `json:"metadata"`
	Citation
}

// ChunkPage is a page of a document's chunks, in chunk order.
type ChunkPage struct {
	Chunks []Chunk `json:"chunks"`
	Total  int     `json:"total"`
	Limit  int     `json:"limit"`
	Offset int     `json:"offset"`
}

// MaxChunkRows is the most rows one Milvus query returns (its own limit, 16384): more than a
// document of the largest accepted size (1 MiB of text) has chunks.
const MaxChunkRows = 16384

// maxChunkPage bounds a page of chunks.
const maxChunkPage = 500

// DocumentChunks returns a page of one of the tenant's documents' chunks in Milvus, ordered by
// chunk number (all versions present, the current one normally alone).
func (s *Service) DocumentChunks(ctx context.Context, tenant, id string, limit, offset int) (*ChunkPage, error) {
	scope, err := documentScope(tenant, id)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > maxChunkPage {
		return nil, invalid("invalid_limit", "limit must be within 1..%d, not %d", maxChunkPage, limit)
	}
	if offset < 0 {
		return nil, invalid("invalid_offset", "offset must not be negative, not %d", offset)
	}
	if _, err := s.records.Get(ctx, tenant, id); err != nil {
		return nil, err
	}
	rows, err := s.chunks.Rows(ctx, scope, MaxChunkRows)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(rows, func(a, b Chunk) int {
		return cmp.Or(cmp.Compare(a.Chunk, b.Chunk), cmp.Compare(a.Version, b.Version))
	})
	page := &ChunkPage{Chunks: []Chunk{}, Total: len(rows), Limit: limit, Offset: offset}
	if offset < len(rows) {
		page.Chunks = rows[offset:min(len(rows), offset+limit)]
	}
	return page, nil
}
