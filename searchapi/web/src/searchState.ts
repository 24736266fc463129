// The search page's state lives in the URL:
// /?q=…&mode=…&k=…&group_by=document&offset=…&doc=…&meta.KEY=VALUE
import { parseIds, rowsToFilter } from './metadata';
import { SEARCH_MODES, type SearchMode, type SearchRequest } from './types';

export const DEFAULT_K = 10;
export const MAX_K = 100;
export const MAX_OFFSET = 1000;
export const META_PREFIX = 'meta.';
/** The URL parameter (and request field) of "one result per document". */
export const GROUP_BY = 'group_by';

export interface SearchState {
  query: string;
  mode: SearchMode;
  k: number;
  /** One result per document (group_by=document): each document's best chunk. */
  perDocument: boolean;
  offset: number;
  /** Comma-separated document ids, as typed. */
  doc: string;
  /** Metadata filter rows [key, value as typed]. */
  meta: [string, string][];
}

function clampInt(raw: string | null, fallback: number, min: number, max: number): number {
  if (raw === null || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) return fallback;
  return Math.min(max, Math.max(min, value));
}

export function parseSearchParams(params: URLSearchParams): SearchState {
  const mode = params.get('mode');
  const meta: [string, string][] = [];
  for (const [name, value] of params) {
    if (name.startsWith(META_PREFIX) && name.length > META_PREFIX.length) {
      meta.push([name.slice(META_PREFIX.length), value]);
    }
  }
  return {
    query: params.get('q') ?? '',
    mode: SEARCH_MODES.includes(mode as SearchMode) ? (mode as SearchMode) : 'hybrid',
    k: clampInt(params.get('k'), DEFAULT_K, 1, MAX_K),
    perDocument: params.get(GROUP_BY) === 'document',
    offset: clampInt(params.get('offset'), 0, 0, MAX_OFFSET),
    doc: params.get('doc') ?? '',
    meta,
  };
}

/** The URL of a search (always "/" with the state in the query string). */
export function searchUrl(state: SearchState): string {
  const params = new URLSearchParams();
  params.set('q', state.query);
  params.set('mode', state.mode);
  params.set('k', String(state.k));
  if (state.perDocument) params.set(GROUP_BY, 'document');
  if (state.offset > 0) params.set('offset', String(state.offset));
  if (state.doc.trim()) params.set('doc', state.doc.trim());
  for (const [key, value] of state.meta) {
    if (key.trim() && value.trim()) params.append(META_PREFIX + key.trim(), value.trim());
  }
  return `/?${params.toString()}`;
}

/** The POST /v1/search body of a state. */
export function searchRequest(state: SearchState): SearchRequest {
  const request: SearchRequest = { query: state.query, k: state.k, mode: state.mode, offset: state.offset };
  // Only when asked: a searchapi from before group_by never sees the field.
  if (state.perDocument) request.group_by = 'document';
  const metadata = rowsToFilter(state.meta.map(([key, value]) => ({ key, value })));
  const documentId = parseIds(state.doc);
  if (Object.keys(metadata).length > 0 || documentId !== undefined) {
    request.filter = {};
    if (Object.keys(metadata).length > 0) request.filter.metadata = metadata;
    if (documentId !== undefined) request.filter.document_id = documentId;
  }
  return request;
}
