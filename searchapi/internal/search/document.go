package search

import "context"

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
