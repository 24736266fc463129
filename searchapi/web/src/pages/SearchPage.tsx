import { useQuery, type UseQueryResult } from '@tanstack/react-query';
import { useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import { Link, useLocation } from 'wouter';
import { api } from '../api';
import { ErrorNotice } from '../components/ErrorNotice';
import { KeyValueRows } from '../components/KeyValueRows';
import { MetadataChips } from '../components/MetadataChips';
import { PageTitle } from '../components/PageTitle';
import { Pager } from '../components/Pager';
import { Snippet } from '../components/Snippet';
import { formatMs, formatPages, formatScore } from '../format';
import { newRow, type Row } from '../metadata';
import { DEFAULT_K, MAX_K, MAX_OFFSET, parseSearchParams, searchRequest, searchUrl, type SearchState } from '../searchState';
import type { SearchHit, SearchMode, SearchRequest, SearchResponse } from '../types';
import { documentPath, useUrlParams } from '../url';

const MODES: readonly { value: SearchMode; label: string }[] = [
  { value: 'hybrid', label: 'hybrid' },
  { value: 'dense', label: 'dense' },
  { value: 'text', label: 'full-text' },
];

const MODE_LABEL: Record<SearchMode, string> = { hybrid: 'hybrid', dense: 'dense', text: 'full-text' };

interface FormState {
  query: string;
  mode: SearchMode;
  k: string;
  perDocument: boolean;
  doc: string;
  rows: Row[];
}

function toForm(state: SearchState): FormState {
  return {
    query: state.query,
    mode: state.mode,
    k: String(state.k),
    perDocument: state.perDocument,
    doc: state.doc,
    rows: state.meta.map(([key, value]) => newRow(key, value)),
  };
}

function fromForm(form: FormState): SearchState {
  const k = Number(form.k);
  return {
    query: form.query.trim(),
    mode: form.mode,
    k: Number.isInteger(k) && k >= 1 && k <= MAX_K ? k : DEFAULT_K,
    perDocument: form.perDocument,
    offset: 0,
    doc: form.doc,
    meta: form.rows.map((row) => [row.key, row.value]),
  };
}

export interface TimedSearch {
  response: SearchResponse;
  /** Request sent to answer parsed, measured in the browser. */
  roundTripMs: number;
}

async function runSearch(request: SearchRequest, signal: AbortSignal): Promise<TimedSearch> {
  const started = performance.now();
  const response = await api<SearchResponse>('/v1/search', { json: request, signal });
  return { response, roundTripMs: performance.now() - started };
}

export function SearchPage() {
  const params = useUrlParams();
  const search = params.toString();
  const state = useMemo(() => parseSearchParams(new URLSearchParams(search)), [search]);
  const request = useMemo(() => searchRequest(state), [state]);
  const [, navigate] = useLocation();
  const [form, setForm] = useState<FormState>(() => toForm(state));
  const [filtersOpen, setFiltersOpen] = useState(() => state.meta.length > 0 || state.doc !== '');
  const ids = { query: useId(), k: useId(), doc: useId(), modeHint: useId(), filterHint: useId(), groupHint: useId() };

  // Back / forward (or a link) changed the URL: the form shows that search again.
  useEffect(() => {
    setForm(toForm(state));
    if (state.meta.length > 0 || state.doc !== '') setFiltersOpen(true);
  }, [state]);

  const active = state.query !== '';
  // The search is the page's first request: it starts as soon as the page renders.
  const result = useQuery({
    queryKey: ['search', request],
    queryFn: ({ signal }) => runSearch(request, signal),
    enabled: active,
    refetchOnWindowFocus: false,
  });

  function go(next: SearchState) {
    const url = next.query ? searchUrl(next) : '/';
    if (url === `${window.location.pathname}${window.location.search}`) {
      void result.refetch(); // the same search again: ask again
    } else {
      navigate(url);
    }
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    go(fromForm(form));
  }

  const filtersSet = form.rows.some((row) => row.key.trim() && row.value.trim()) || form.doc.trim() !== '';

  return (
    <>
      <PageTitle title={state.query ? `Search: ${state.query}` : 'Search'}>Search</PageTitle>
      <form className="search-form" role="search" aria-label="Search documents" onSubmit={onSubmit}>
        <div className="search-row">
          <label htmlFor={ids.query} className="sr-only">
            Search
          </label>
          <input
            id={ids.query}
            type="search"
            role="searchbox"
            name="q"
            value={form.query}
            onChange={(event) => setForm({ ...form, query: event.target.value })}
            placeholder="Words or a question…"
            autoComplete="off"
            enterKeyHint="search"
          />
          <button type="submit" className="primary">
            Search
          </button>
        </div>
        <div className="search-options">
          <fieldset className="modes" aria-describedby={ids.modeHint}>
            <legend>Mode</legend>
            {MODES.map((mode) => (
              <label key={mode.value} className="radio">
                <input
                  type="radio"
                  name="mode"
                  value={mode.value}
                  checked={form.mode === mode.value}
                  onChange={() => setForm({ ...form, mode: mode.value })}
                />
                {mode.label}
              </label>
            ))}
            <p id={ids.modeHint} className="hint">
              Dense finds by meaning, full-text by the words themselves, hybrid fuses both.
            </p>
          </fieldset>
          <div className="field field-k">
            <label htmlFor={ids.k}>Results per page (k)</label>
            <input
              id={ids.k}
              type="number"
              inputMode="numeric"
              min={1}
              max={MAX_K}
              step={1}
              required
              value={form.k}
              onChange={(event) => setForm({ ...form, k: event.target.value })}
            />
          </div>
          <div className="field field-group">
            <label className="check">
              <input
                type="checkbox"
                name="group_by"
                value="document"
                checked={form.perDocument}
                onChange={(event) => setForm({ ...form, perDocument: event.target.checked })}
                aria-describedby={ids.groupHint}
              />
              One result per document
            </label>
            <p id={ids.groupHint} className="hint">
              Each document&apos;s best passage, with how many more matched.
            </p>
          </div>
        </div>
        <details className="filters" open={filtersOpen} onToggle={(event) => setFiltersOpen(event.currentTarget.open)}>
          <summary>Filters{filtersSet ? ' (set)' : ''}</summary>
          <KeyValueRows
            legend="Metadata"
            rows={form.rows}
            onChange={(rows) => setForm({ ...form, rows })}
            addLabel="Add metadata filter"
            noun="filter"
            hint='A chunk matches when its metadata has each key with that value. "a, b" means any of a or b. Numbers and true/false are compared as such; put a value in double quotes ("42") to compare it as text.'
          />
          <div className="field">
            <label htmlFor={ids.doc}>Document ids</label>
            <input
              id={ids.doc}
              value={form.doc}
              onChange={(event) => setForm({ ...form, doc: event.target.value })}
              aria-describedby={ids.filterHint}
              autoComplete="off"
              spellCheck={false}
            />
            <p id={ids.filterHint} className="hint">
              Only these documents; separate several ids with commas.
            </p>
          </div>
        </details>
      </form>

      {active ? (
        <Results state={state} result={result} onPage={(offset) => go({ ...state, offset })} />
      ) : (
        <section className="empty" aria-labelledby="search-hint">
          <h2 id="search-hint">Search your documents</h2>
          <p>
            Type a few words or a question, for example a phrase from a document you added. Results show the best
            matching chunks with the words found marked.
          </p>
          <p>
            Nothing indexed yet? <Link href="/add">Add documents</Link> first.
          </p>
        </section>
      )}
    </>
  );
}

function Results({
  state,
  result,
  onPage,
}: {
  state: SearchState;
  result: UseQueryResult<TimedSearch>;
  onPage: (offset: number) => void;
}) {
  const data = result.isError ? undefined : result.data;
  const hits = data?.response.hits ?? [];
  const filtered = state.meta.length > 0 || state.doc.trim() !== '';
  let summary = '';
  if (result.isPending && result.isFetching) summary = 'Searching…';
  else if (data && hits.length > 0)
    summary = `Results ${state.offset + 1}–${state.offset + hits.length} for “${state.query}” (${MODE_LABEL[state.mode]}${
      state.perDocument ? ', one per document' : ''
    })`;
  else if (data) summary = state.offset > 0 ? `No more results for “${state.query}”.` : `No results for “${state.query}”.`;

  return (
    <section
      className="results"
      aria-labelledby="results-heading"
      aria-busy={result.isFetching}
      data-testid="results"
      // Changes with every answer, even an identical one: end-to-end tests wait on it.
      data-answered-at={Math.max(result.dataUpdatedAt, result.errorUpdatedAt)}
    >
      <h2 id="results-heading">Results</h2>
      <p role="status" className="summary">
        {summary}
      </p>
      {result.isError ? <ErrorNotice error={result.error} what="Search failed" /> : null}
      {data ? (
        <p className="latency muted" data-testid="latency">
          {formatMs(data.response.took_ms)} ms in searchapi, {formatMs(data.roundTripMs)} ms round trip
        </p>
      ) : null}
      {data && hits.length === 0 && state.offset === 0 ? (
        <div className="empty" data-testid="no-results">
          <p>Things to try:</p>
          <ul>
            {(['hybrid', 'dense', 'text'] as const)
              .filter((mode) => mode !== state.mode)
              .map((mode) => (
                <li key={mode}>
                  <Link href={searchUrl({ ...state, mode, offset: 0 })}>Search in {MODE_LABEL[mode]} mode</Link>
                </li>
              ))}
            {filtered ? (
              <li>
                <Link href={searchUrl({ ...state, meta: [], doc: '', offset: 0 })}>Search without the filters</Link>
              </li>
            ) : null}
            <li>
              Check that your documents are indexed: <Link href="/documents">Documents</Link>
            </li>
          </ul>
        </div>
      ) : null}
      {hits.length > 0 ? (
        <ol className="hits" start={state.offset + 1}>
          {hits.map((hit) => (
            <li key={hit.chunk_id || `${hit.document_id}#${hit.chunk}`}>
              <article className="hit" data-testid="hit" data-document-id={hit.document_id} data-chunk={hit.chunk}>
                <h3 className="hit-title">
                  <Link href={documentPath(hit.document_id)}>{hit.title || hit.document_id}</Link>
                </h3>
                <Snippet hit={hit} query={state.query} />
                <MorePassages hit={hit} state={state} />
                <dl className="facts">
                  <div>
                    <dt>Score</dt>
                    <dd data-testid="score">{formatScore(hit.score)}</dd>
                  </div>
                  <div>
                    <dt>Document</dt>
                    <dd>
                      <code>{hit.document_id}</code>
                    </dd>
                  </div>
                  <div>
                    <dt>Chunk</dt>
                    <dd>{hit.chunk}</dd>
                  </div>
                  {hit.page ? (
                    <div>
                      <dt>{hit.page_end && hit.page_end !== hit.page ? 'Pages' : 'Page'}</dt>
                      <dd data-testid="page">{formatPages(hit.page, hit.page_end)}</dd>
                    </div>
                  ) : null}
                  {hit.section ? (
                    <div>
                      <dt>Section</dt>
                      <dd data-testid="section">{hit.section}</dd>
                    </div>
                  ) : null}
                </dl>
                <MetadataChips metadata={hit.metadata} />
              </article>
            </li>
          ))}
        </ol>
      ) : null}
      {data && (hits.length > 0 || state.offset > 0) ? (
        <Pager
          label="Result pages"
          hasPrevious={state.offset > 0}
          hasNext={hits.length >= state.k && state.offset + state.k <= MAX_OFFSET}
          onPrevious={() => onPage(Math.max(0, state.offset - state.k))}
          onNext={() => onPage(state.offset + state.k)}
        />
      ) : null}
    </section>
  );
}

/**
 * "+N more passages in this document" on a grouped hit: a link to the same search in that
 * document alone, one result per chunk.
 */
function MorePassages({ hit, state }: { hit: SearchHit; state: SearchState }) {
  const more = hit.more_chunks;
  if (typeof more !== 'number' || !Number.isInteger(more) || more <= 0) return null;
  const label = `+${more} more ${more === 1 ? 'passage' : 'passages'} in this document`;
  // The document id filter reads commas as "or": an id with one cannot be linked to alone.
  const linkable = !hit.document_id.includes(',');
  const href = searchUrl({ ...state, perDocument: false, doc: hit.document_id, offset: 0 });
  return (
    <p className="more-passages" data-testid="more-passages">
      {linkable ? <Link href={href}>{label}</Link> : label}
    </p>
  );
}
