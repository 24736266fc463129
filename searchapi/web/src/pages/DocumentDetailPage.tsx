import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState } from 'react';
import { Link, useParams } from 'wouter';
import { api, describeError, isNotFound, segment } from '../api';
import { ErrorNotice } from '../components/ErrorNotice';
import { MetadataChips } from '../components/MetadataChips';
import { PageTitle } from '../components/PageTitle';
import { Pager } from '../components/Pager';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import type { ChunkList, DocumentRecord, IngestOutcome } from '../types';
import { decodeParam } from '../url';

export const CHUNK_PAGE = 50;
const FINAL = new Set(['indexed', 'failed', 'deleted']);

export function DocumentDetailPage() {
  const id = decodeParam(useParams<{ id: string }>().id);
  const client = useQueryClient();
  const [chunkOffset, setChunkOffset] = useState(0);
  const [deleted, setDeleted] = useState<IngestOutcome | null>(null);

  const record = useQuery({
    queryKey: ['document', id],
    queryFn: ({ signal }) => api<DocumentRecord>(`/v1/documents/${segment(id)}`, { signal }),
    // While the pipeline works on it, follow its status.
    refetchInterval: (query) => (query.state.data && !FINAL.has(query.state.data.status) ? 2000 : false),
  });

  const chunks = useQuery({
    queryKey: ['chunks', id, chunkOffset, record.data?.version, record.data?.status],
    queryFn: ({ signal }) =>
      api<ChunkList>(`/v1/documents/${segment(id)}/chunks`, { query: { limit: CHUNK_PAGE, offset: chunkOffset }, signal }),
    enabled: record.isSuccess,
    placeholderData: keepPreviousData, // the page stays while the next one loads
  });

  const remove = useMutation({
    mutationFn: () => api<IngestOutcome>(`/v1/ingest/documents/${segment(id)}`, { method: 'DELETE' }),
    onSuccess: (outcome) => {
      setDeleted(outcome);
      void client.invalidateQueries({ queryKey: ['document', id] });
      void client.invalidateQueries({ queryKey: ['documents'] });
      client.removeQueries({ queryKey: ['search'] }); // cached results may still show it
    },
  });

  const missing = isNotFound(record.error);
  const doc = record.data;

  return (
    <>
      <p className="breadcrumb">
        <Link href="/documents">← Documents</Link>
      </p>
      <PageTitle title={`Document ${id}`}>
        Document <code className="title-id">{id}</code>
      </PageTitle>

      <div role="status">
        {deleted ? (
          <div className="notice notice-ok" data-testid="deleted-message">
            Deleted document “{deleted.id}” (status {deleted.status}): it leaves search as soon as the index is
            updated. <Link href="/documents">Back to the documents</Link>
          </div>
        ) : null}
      </div>

      {record.isPending ? <p role="status">Loading…</p> : null}
      {missing ? (
        <div className="notice" data-testid="not-found">
          <p>No document with id “{id}”.</p>
          <p>
            <Link href="/documents">See all documents</Link> or <Link href="/add">add one</Link>.
          </p>
        </div>
      ) : record.isError ? (
        <ErrorNotice error={record.error} what="Document" />
      ) : null}

      {doc && !missing ? (
        <>
          <section aria-labelledby="record-heading">
            <h2 id="record-heading">Record</h2>
            <dl className="record">
              <dt>Status</dt>
              <dd>
                <StatusBadge status={doc.status} />
              </dd>
              <dt>Version</dt>
              <dd>
                <code className="wrap">{doc.version}</code>
              </dd>
              <dt>Chunks</dt>
              <dd>
                {doc.chunks}
                {doc.indexed_chunks !== undefined ? ` (${doc.indexed_chunks} indexed)` : ''}
              </dd>
              <dt>Tenant</dt>
              <dd>{doc.tenant}</dd>
              <dt>Created</dt>
              <dd>
                <Time iso={doc.created_at} />
              </dd>
              <dt>Accepted</dt>
              <dd>
                <Time iso={doc.accepted_at} />
              </dd>
              <dt>Updated</dt>
              <dd>
                <Time iso={doc.updated_at} />
              </dd>
              <dt>Indexed</dt>
              <dd>
                <Time iso={doc.indexed_at} />
              </dd>
            </dl>
            {doc.error ? (
              <div className="notice notice-error" data-testid="document-error">
                <h3>{doc.status === 'failed' ? 'Failed' : 'Error'}</h3>
                <p className="pre">{doc.error}</p>
              </div>
            ) : null}
          </section>

          {doc.status !== 'deleted' && !deleted ? (
            <DeleteControl id={id} pending={remove.isPending} error={remove.error} onConfirm={() => remove.mutate()} />
          ) : null}

          <section aria-labelledby="chunks-heading">
            <h2 id="chunks-heading">Chunks</h2>
            {chunks.isPending && chunks.fetchStatus === 'fetching' ? <p role="status">Loading chunks…</p> : null}
            {chunks.isError ? <ErrorNotice error={chunks.error} what="Chunks" /> : null}
            {chunks.data ? (
              <>
                <p className="summary">
                  {chunks.data.total === 0
                    ? 'No chunks stored for this document.'
                    : `Chunks ${chunks.data.offset + 1}–${chunks.data.offset + chunks.data.chunks.length} of ${chunks.data.total}`}
                </p>
                <ol className="chunks">
                  {chunks.data.chunks.map((chunk) => (
                    <li key={chunk.chunk} className="chunk" data-testid="chunk" data-chunk={chunk.chunk}>
                      <h3 className="chunk-title">
                        Chunk {chunk.chunk}
                        {chunk.title ? <span className="muted"> · {chunk.title}</span> : null}
                      </h3>
                      <p className="pre chunk-text">{chunk.text}</p>
                      <MetadataChips metadata={chunk.metadata} label={`Metadata of chunk ${chunk.chunk}`} />
                    </li>
                  ))}
                </ol>
                {chunks.data.total > CHUNK_PAGE ? (
                  <Pager
                    label="Chunk pages"
                    hasPrevious={chunkOffset > 0}
                    hasNext={chunkOffset + CHUNK_PAGE < chunks.data.total}
                    onPrevious={() => setChunkOffset(Math.max(0, chunkOffset - CHUNK_PAGE))}
                    onNext={() => setChunkOffset(chunkOffset + CHUNK_PAGE)}
                  />
                ) : null}
              </>
            ) : null}
          </section>
        </>
      ) : null}
    </>
  );
}

/** "Delete", then an in-page confirmation: "Delete document" or "Cancel" (Escape cancels). */
function DeleteControl({
  id,
  pending,
  error,
  onConfirm,
}: {
  id: string;
  pending: boolean;
  error: unknown;
  onConfirm: () => void;
}) {
  const [asking, setAsking] = useState(false);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const deleteRef = useRef<HTMLButtonElement>(null);
  const wasAsking = useRef(false);
  const textId = useId();

  useEffect(() => {
    if (asking) cancelRef.current?.focus();
    else if (wasAsking.current) deleteRef.current?.focus();
    wasAsking.current = asking;
  }, [asking]);

  return (
    <section className="danger-zone" aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete</h2>
      {asking ? (
        <div
          role="group"
          aria-labelledby={textId}
          className="confirm"
          onKeyDown={(event) => {
            if (event.key === 'Escape') setAsking(false);
          }}
        >
          <p id={textId}>
            Delete document “{id}”? Its chunks are removed from search. This cannot be undone.
          </p>
          <button type="button" className="danger" onClick={onConfirm} disabled={pending}>
            {pending ? 'Deleting…' : 'Delete document'}
          </button>
          <button type="button" ref={cancelRef} onClick={() => setAsking(false)} disabled={pending}>
            Cancel
          </button>
        </div>
      ) : (
        <button type="button" ref={deleteRef} className="danger" onClick={() => setAsking(true)}>
          Delete
        </button>
      )}
      {error ? (
        <div role="alert" className="notice notice-error">
          Could not delete: {describeError(error)}
        </div>
      ) : null}
    </section>
  );
}
