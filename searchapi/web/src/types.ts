// The shapes searchapi answers with (see the console contract). Only what the console reads.

export type Scalar = string | number | boolean;
export type Metadata = Record<string, unknown>;

export type SearchMode = 'hybrid' | 'dense' | 'text';
export const SEARCH_MODES: readonly SearchMode[] = ['hybrid', 'dense', 'text'];

export interface SearchFilter {
  metadata?: Record<string, Scalar | Scalar[]>;
  document_id?: string | string[];
}

export interface SearchRequest {
  query: string;
  k: number;
  mode: SearchMode;
  offset: number;
  filter?: SearchFilter;
  /** At most one hit per document (its best chunk). */
  group_by?: 'document';
}

/** [start, end) in code points (Unicode scalar values, as searchapi counts), not UTF-16 units. */
export interface TextRange {
  start: number;
  end: number;
}

/** The best passage of a hit's text: its code-point range in the text, highlights relative to it. */
export interface HitSnippet {
  text: string;
  start: number;
  end: number;
  highlights?: TextRange[] | null;
}

export interface SearchHit {
  chunk_id: string;
  document_id: string;
  chunk: number;
  score: number;
  title: string;
  text: string;
  metadata: Metadata | null;
  /** Where in its file the chunk came from: pages (null without pages), heading path. */
  page?: number | null;
  page_end?: number | null;
  section?: string;
  /** The words of the text that matched the query's terms (searchapi since group_by; absent before). */
  highlights?: TextRange[] | null;
  snippet?: HitSnippet | null;
  /** With group_by=document: how many other chunks of the document matched too. */
  more_chunks?: number;
}

export interface SearchResponse {
  hits: SearchHit[];
  mode: SearchMode;
  k: number;
  offset: number;
  took_ms: number;
}

export const DOCUMENT_STATUSES = [
  'accepted',
  'transforming',
  'embedded',
  'indexed',
  'failed',
  'deleted',
] as const;
export type DocumentStatus = (typeof DOCUMENT_STATUSES)[number];

/** A stored document's status, or what ingest answered for a submission ("unchanged"). */
export type SubmissionStatus = DocumentStatus | 'unchanged';

export interface DocumentRecord {
  id: string;
  tenant: string;
  version: string;
  status: DocumentStatus;
  chunks: number;
  indexed_chunks?: number;
  error: string | null;
  created_at: string;
  accepted_at: string;
  updated_at: string;
  indexed_at?: string | null;
}

export interface DocumentList {
  documents: DocumentRecord[];
  next_cursor: string | null;
  total: number;
  limit: number;
}

export interface Chunk {
  chunk: number;
  title: string;
  text: string;
  version: string;
  metadata: Metadata | null;
}

export interface ChunkList {
  chunks: Chunk[];
  total: number;
  limit: number;
  offset: number;
}

export interface IngestOutcome {
  id: string;
  version: string;
  status: SubmissionStatus;
  status_url: string;
}

export interface QueueFigures {
  queue: string;
  depth: number | null;
  oldest_job_age_seconds: number | null;
  scheduled: number | null;
  failed: number | null;
  workers: { busy: number | null; idle: number | null } | null;
}

/** building: the other model's collection is being filled; ready: filled, waiting for the
 * switch; previous: switched, the other model is the previous one (kept until drop-old). */
export type ModelPhase = 'building' | 'ready' | 'previous';

/** The copy into the other model's collection (docs/s over the last minute). */
export interface ModelProgress {
  done: number;
  pending: number;
  total: number;
  rate_per_second: number | null;
  eta_seconds: number | null;
}

export interface ModelState {
  active: string;
  other: string | null;
  phase: ModelPhase | null;
  progress: ModelProgress | null;
}

export interface OpsResponse {
  queues: QueueFigures[];
  freshness: {
    window_seconds: number;
    p50_seconds: number | null;
    p95_seconds: number | null;
    indexed: number | null;
  } | null;
  /** The embedding model, null when Prometheus has none (absent from a searchapi before it). */
  model?: ModelState | null;
  prometheus_url: string | null;
  metrics_available: boolean;
  error: string | null;
}

export interface DeadLetter {
  job_id: string;
  queue: string;
  subscriber: string;
  event_type: string;
  event_id: string;
  document_id: string | null;
  document_version: string | null;
  tenant: string | null;
  trace_id: string | null;
  failed_at: string | null;
  error: string | null;
}

export interface DeadLetterList {
  dead_letters: DeadLetter[];
}

export interface ReplayResponse {
  replayed: number;
}
