import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useId, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { api } from '../api';
import { ErrorNotice } from '../components/ErrorNotice';
import { PageTitle } from '../components/PageTitle';
import { Pager } from '../components/Pager';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import { shortVersion } from '../format';
import { DOCUMENT_STATUSES, type DocumentList, type DocumentStatus } from '../types';
import { documentPath, useUrlParams } from '../url';

export const PAGE_SIZES = [10, 20, 50, 100] as const;
const DEFAULT_LIMIT = 20;
export const REFRESH_MS = 5000;

interface Filter {
  status: DocumentStatus | '';
  prefix: string;
  limit: number;
}

function parseFilter(params: URLSearchParams): Filter {
  const status = params.get('status') ?? '';
  const limit = Number(params.get('limit'));
  return {
    status: (DOCUMENT_STATUSES as readonly string[]).includes(status) ? (status as DocumentStatus) : '',
    prefix: params.get('prefix') ?? '',
    limit: (PAGE_SIZES as readonly number[]).includes(limit) ? limit : DEFAULT_LIMIT,
  };
}

function filterUrl(filter: Filter): string {
  const params = new URLSearchParams();
  if (filter.status) params.set('status', filter.status);
  if (filter.prefix) params.set('prefix', filter.prefix);
  if (filter.limit !== DEFAULT_LIMIT) params.set('limit', String(filter.limit));
  const query = params.toString();
  return query ? `/documents?${query}` : '/documents';
}

export function DocumentsPage() {
  const params = useUrlParams();
  const filter = parseFilter(params);
  const filterKey = filterUrl(filter);
  const [, navigate] = useLocation();
  const ids = { status: useId(), prefix: useId(), limit: useId() };

  // Pages visited under this filter: the cursor of each (null: the first). Previous pops.
  const [pages, setPages] = useState<{ filterKey: string; cursors: (string | null)[] }>({ filterKey, cursors: [null] });
  const cursors = pages.filterKey === filterKey ? pages.cursors : [null];
  const cursor = cursors[cursors.length - 1] ?? null;

  // The prefix box applies as one types (after a pause), without a history entry per key.
  const [prefix, setPrefix] = useState(filter.prefix);
  useEffect(() => setPrefix(filter.prefix), [filter.prefix]);
  useEffect(() => {
    if (prefix === filter.prefix) return;
    const timer = window.setTimeout(() => navigate(filterUrl({ ...filter, prefix: prefix.trim() }), { replace: true }), 300);
    return () => window.clearTimeout(timer);
  }, [prefix]); // only typing re-arms the timer (the filter it reads is the latest render's)

  const list = useQuery({
    queryKey: ['documents', filter.status, filter.prefix, filter.limit, cursor],
    queryFn: ({ signal }) =>
      api<DocumentList>('/v1/ingest/documents', {
        query: { status: filter.status, prefix: filter.prefix, limit: filter.limit, cursor },
        signal,
      }),
    placeholderData: keepPreviousData,
    refetchInterval: REFRESH_MS, // paused by react-query while the tab is hidden
  });

  const data = list.data;
  const documents = data?.documents ?? [];
  const first = (cursors.length - 1) * (data?.limit ?? filter.limit); // the page size searchapi used
  const filtered = filter.status !== '' || filter.prefix !== '';

  return (
    <>
      <PageTitle title="Documents">Documents</PageTitle>
      <form className="filters-bar" aria-label="Filter documents" onSubmit={(event) => event.preventDefault()}>
        <div className="field">
          <label htmlFor={ids.status}>Status</label>
          <select
            id={ids.status}
            value={filter.status}
            onChange={(event) => navigate(filterUrl({ ...filter, status: event.target.value as DocumentStatus | '' }))}
          >
            <option value="">all</option>
            {DOCUMENT_STATUSES.map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.prefix}>Id starts with</label>
          <input
            id={ids.prefix}
            value={prefix}
            onChange={(event) => setPrefix(event.target.value)}
            autoComplete="off"
            spellCheck={false}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.limit}>Page size</label>
          <select
            id={ids.limit}
            value={filter.limit}
            onChange={(event) => navigate(filterUrl({ ...filter, limit: Number(event.target.value) }))}
          >
            {PAGE_SIZES.map((size) => (
              <option key={size} value={size}>
                {size}
              </option>
            ))}
          </select>
        </div>
      </form>

      {list.isError ? <ErrorNotice error={list.error} what="Documents" /> : null}
      {list.isPending ? <p role="status">Loading documents…</p> : null}

      {data ? (
        <p role="status" className="summary" data-testid="documents-total">
          {data.total === 0
            ? 'No documents'
            : `Documents ${documents.length ? first + 1 : first}–${first + documents.length} of ${data.total}`}
          {filter.status ? ` with status ${filter.status}` : ''}
          {filter.prefix ? ` whose id starts with “${filter.prefix}”` : ''}
          {list.isFetching ? ' (refreshing…)' : ''}
        </p>
      ) : null}

      {data && documents.length === 0 && cursors.length === 1 ? (
        <div className="empty" data-testid="documents-empty">
          {filtered ? (
            <p>
              No documents match these filters. <Link href="/documents">Show all documents</Link>
            </p>
          ) : (
            <p>
              No documents yet — <Link href="/add">add some</Link>.
            </p>
          )}
        </div>
      ) : null}

      {documents.length > 0 ? (
        <div className="table-wrap" role="region" aria-label="Documents table" tabIndex={0}>
          <table>
            <caption className="sr-only">Documents of this tenant, by id</caption>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Status</th>
                <th scope="col">Version</th>
                <th scope="col" className="num">
                  Chunks
                </th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {documents.map((document) => (
                <tr key={document.id} data-testid="document-row" data-document-id={document.id}>
                  <th scope="row" className="id-cell">
                    <Link href={documentPath(document.id)}>{document.id}</Link>
                  </th>
                  <td>
                    <StatusBadge status={document.status} />
                  </td>
                  <td>
                    <code title={document.version}>{shortVersion(document.version)}</code>
                  </td>
                  <td className="num">{document.chunks}</td>
                  <td>
                    <Time iso={document.updated_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}

      {data && (cursors.length > 1 || data.next_cursor) ? (
        <Pager
          label="Document pages"
          hasPrevious={cursors.length > 1}
          hasNext={Boolean(data.next_cursor) && !list.isPlaceholderData}
          onPrevious={() => setPages({ filterKey, cursors: cursors.slice(0, -1) })}
          onNext={() => data.next_cursor && setPages({ filterKey, cursors: [...cursors, data.next_cursor] })}
        >
          Page {cursors.length}
        </Pager>
      ) : null}
    </>
  );
}
