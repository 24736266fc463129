import { useQuery } from '@tanstack/react-query';
import { useId, useState, type DragEvent, type FormEvent } from 'react';
import { Link } from 'wouter';
import { api, describeError, isNotFound, segment } from '../api';
import { KeyValueRows } from '../components/KeyValueRows';
import { PageTitle } from '../components/PageTitle';
import { StatusBadge } from '../components/StatusBadge';
import { rowsToMetadata, type Row } from '../metadata';
import { useSubmissions, type Submission } from '../submissions';
import type { DocumentRecord, IngestOutcome } from '../types';
import { documentPath } from '../url';

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~:@+-]{0,255}$/;
/** Statuses after which a document changes no more by itself. */
const FINAL = new Set(['indexed', 'failed', 'deleted', 'unchanged', 'refused']);
/** Files sent at once (each in its own request). */
const PARALLEL_UPLOADS = 3;

/** Poll delay after n answers: 1 s, 1.5 s, 2.3 s, 3.4 s, then every 5 s. */
export function pollDelay(answers: number): number {
  return Math.min(5000, Math.round(1000 * 1.5 ** Math.max(0, answers - 1)));
}

const METADATA_HINT =
  'Numbers and true/false are stored as such; put a value in double quotes ("42") to store it as text.';

export function AddPage() {
  const { submissions, add, update } = useSubmissions();
  const ids = { title: useId(), id: useId(), idHint: useId(), text: useId(), files: useId(), filesHint: useId() };
  const [title, setTitle] = useState('');
  const [docId, setDocId] = useState('');
  const [text, setText] = useState('');
  const [rows, setRows] = useState<Row[]>([]);
  const [fileRows, setFileRows] = useState<Row[]>([]);
  const [problem, setProblem] = useState('');
  const [dragging, setDragging] = useState(false);

  const idInvalid = docId.trim() !== '' && !ID_PATTERN.test(docId.trim());

  async function onSubmitText(event: FormEvent) {
    event.preventDefault();
    const id = docId.trim();
    if (!text.trim()) {
      setProblem('Enter the text of the document.');
      return;
    }
    if (idInvalid) {
      setProblem('The id does not fit the pattern below: change it or leave it empty.');
      return;
    }
    setProblem('');
    const metadata = rowsToMetadata(rows);
    const body = {
      ...(id ? { id } : {}),
      title: title.trim(),
      text,
      ...(Object.keys(metadata).length ? { metadata } : {}),
    };
    const key = add({ label: title.trim() || id || 'Untitled text', kind: 'text', state: 'sending', ...(id ? { id } : {}) });
    try {
      const outcome = await api<IngestOutcome>('/v1/ingest/documents', { json: body });
      update(key, { id: outcome.id, state: outcome.status });
      setTitle('');
      setDocId('');
      setText('');
    } catch (error) {
      update(key, { state: 'refused', error: describeError(error) });
    }
  }

  async function sendFiles(files: File[]) {
    if (files.length === 0) return;
    const metadata = rowsToMetadata(fileRows);
    const queue = files.map((file) => ({ file, key: add({ label: file.name, kind: 'file', state: 'sending' }) }));
    async function worker() {
      for (let item = queue.shift(); item; item = queue.shift()) {
        // One request per file: each gets its own outcome (a 415 for one does not stop the others).
        const form = new FormData();
        form.append('file', item.file, item.file.name);
        if (Object.keys(metadata).length) form.append('metadata', JSON.stringify(metadata));
        try {
          const answer = await api<{ documents?: IngestOutcome[] }>('/v1/ingest/documents', { form });
          const outcome = answer?.documents?.[0];
          update(
            item.key,
            outcome
              ? { id: outcome.id, state: outcome.status }
              : { state: 'refused', error: 'ingest answered without a document' },
          );
        } catch (error) {
          update(item.key, { state: 'refused', error: describeError(error) });
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(PARALLEL_UPLOADS, queue.length) }, worker));
  }

  function onDrop(event: DragEvent) {
    event.preventDefault();
    setDragging(false);
    void sendFiles(Array.from(event.dataTransfer.files));
  }

  return (
    <>
      <PageTitle title="Add documents">Add documents</PageTitle>
      <div className="add-grid">
        <section aria-labelledby="paste-heading" className="panel">
          <h2 id="paste-heading">Paste text</h2>
          <form onSubmit={onSubmitText} noValidate>
            <div className="field">
              <label htmlFor={ids.title}>Title</label>
              <input id={ids.title} value={title} onChange={(event) => setTitle(event.target.value)} />
            </div>
            <div className="field">
              <label htmlFor={ids.id}>Id (optional)</label>
              <input
                id={ids.id}
                value={docId}
                onChange={(event) => setDocId(event.target.value)}
                aria-describedby={ids.idHint}
                aria-invalid={idInvalid}
                autoComplete="off"
                spellCheck={false}
              />
              <p id={ids.idHint} className="hint">
                Letters, digits and . _ ~ : @ + - (starting with a letter or digit), at most 256 characters. Left empty,
                the id is derived from the text. The same id again replaces the document.
              </p>
            </div>
            <div className="field">
              <label htmlFor={ids.text}>Text</label>
              <textarea id={ids.text} rows={8} value={text} onChange={(event) => setText(event.target.value)} required />
            </div>
            <KeyValueRows
              legend="Metadata"
              rows={rows}
              onChange={setRows}
              addLabel="Add metadata field"
              noun="metadata"
              hint={METADATA_HINT}
            />
            {problem ? (
              <p role="alert" className="notice notice-error">
                {problem}
              </p>
            ) : null}
            <button type="submit" className="primary">
              Add document
            </button>
          </form>
        </section>

        <section aria-labelledby="files-heading" className="panel">
          <h2 id="files-heading">Upload files</h2>
          <div
            className={dragging ? 'dropzone dragging' : 'dropzone'}
            data-testid="dropzone"
            onDragEnter={(event) => {
              event.preventDefault();
              setDragging(true);
            }}
            onDragOver={(event) => {
              event.preventDefault();
              event.dataTransfer.dropEffect = 'copy';
            }}
            onDragLeave={(event) => {
              if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
            }}
            onDrop={onDrop}
          >
            <p className="dropzone-title">Drop files here, or</p>
            {/* The real control, visually hidden; its label is the visible "button" (and shows its focus). */}
            <input
              id={ids.files}
              type="file"
              multiple
              className="file-input"
              aria-describedby={ids.filesHint}
              onChange={(event) => {
                const files = Array.from(event.target.files ?? []);
                event.target.value = ''; // the same file can be chosen again
                void sendFiles(files);
              }}
            />
            <label htmlFor={ids.files} className="file-label">
              Choose files
            </label>
            <p id={ids.filesHint} className="hint">
              Each file is sent on its own and becomes one document: the id from its file name, the title its name
              without extension. searchapi says which types it does not take.
            </p>
          </div>
          <KeyValueRows
            legend="Metadata for the files"
            rows={fileRows}
            onChange={setFileRows}
            addLabel="Add metadata field for files"
            noun="file metadata"
            hint={METADATA_HINT}
          />
        </section>
      </div>

      <section aria-labelledby="submitted-heading" className="submitted">
        <h2 id="submitted-heading">Submitted</h2>
        <div role="status" aria-live="polite" aria-atomic="false" aria-relevant="additions text">
          {submissions.length === 0 ? (
            <p className="muted">Nothing submitted in this visit yet.</p>
          ) : (
            <ul className="submissions">
              {submissions.map((submission) => (
                <SubmissionRow key={submission.key} submission={submission} />
              ))}
            </ul>
          )}
        </div>
      </section>
    </>
  );
}

function SubmissionRow({ submission }: { submission: Submission }) {
  const { id } = submission;
  const follow = id !== undefined && !FINAL.has(submission.state) && submission.state !== 'sending';
  const status = useQuery({
    // Its own key per submission: a cached record of an earlier version must not end the polling.
    queryKey: ['submission', submission.key, id],
    queryFn: ({ signal }) => api<DocumentRecord>(`/v1/documents/${segment(id ?? '')}`, { signal }),
    enabled: follow,
    refetchInterval: (query) => {
      const current = query.state.data?.status;
      if (current && FINAL.has(current)) return false;
      return pollDelay(query.state.dataUpdateCount + query.state.errorUpdateCount);
    },
    refetchIntervalInBackground: true, // a tab left in the background still learns the outcome
  });

  const shown = follow && status.data ? status.data.status : submission.state;
  const error =
    submission.error ??
    (status.data?.error || undefined) ??
    (status.error && !isNotFound(status.error) ? `Status unknown: ${describeError(status.error)}` : undefined);

  return (
    <li className="submission" data-testid="submission" data-document-id={id ?? ''} data-status={shown}>
      <span className="submission-label">
        {submission.kind === 'file' ? 'File ' : ''}
        <strong>{submission.label}</strong>
      </span>
      <StatusBadge status={shown} />
      {id ? (
        <span className="submission-id">
          id <Link href={documentPath(id)}>{id}</Link>
        </span>
      ) : null}
      {error ? <span className="submission-error">{error}</span> : null}
    </li>
  );
}
