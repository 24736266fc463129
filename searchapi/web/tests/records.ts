import type { DocumentRecord } from '../src/types';

export function record(id: string, change: Partial<DocumentRecord> = {}): DocumentRecord {
  return {
    id,
    tenant: 'default',
    version: 'sha256:9f86d081884c7d659a2feaa0c55ad015',
    status: 'indexed',
    chunks: 3,
    indexed_chunks: 3,
    error: null,
    created_at: '2025-01-01T10:00:00Z',
    accepted_at: '2025-01-01T10:00:00Z',
    updated_at: new Date(Date.now() - 120_000).toISOString(),
    indexed_at: '2025-01-01T10:00:02Z',
    ...change,
  };
}
