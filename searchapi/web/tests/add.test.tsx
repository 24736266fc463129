import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { pollDelay } from '../src/pages/AddPage';
import type { DocumentStatus } from '../src/types';
import { apiError, fakeServer, json, type Call, type Route } from './fakeServer';
import { record } from './records';
import { renderApp } from './render';

/** GET /v1/documents/{id} walking each document through the statuses, one per poll. */
function statusRoute(walks: Record<string, DocumentStatus[]>, errors: Record<string, string> = {}): Route {
  const seen = new Map<string, number>();
  return {
    path: /^\/v1\/documents\/[^/]+$/,
    reply: (call) => {
      const id = decodeURIComponent(call.path.split('/').pop()!);
      const walk = walks[id];
      if (!walk) return apiError(404, 'not_found', `no document ${id}`);
      const n = seen.get(id) ?? 0;
      seen.set(id, n + 1);
      const status = walk[Math.min(n, walk.length - 1)]!;
      return json(200, record(id, { status, error: status === 'failed' ? (errors[id] ?? 'failed') : null }));
    },
  };
}

function multipartRoute(refuse: Record<string, [number, string, string]> = {}): Route {
  return {
    method: 'POST',
    path: '/v1/ingest/documents',
    reply: (call: Call) => {
      const file = call.form?.get('file');
      if (!(file instanceof File)) return apiError(400, 'invalid_document', 'no file part');
      const refusal = refuse[file.name];
      if (refusal) return apiError(...refusal);
      return json(202, { documents: [{ id: file.name, version: 'v1', status: 'accepted', status_url: `/v1/documents/${file.name}` }] });
    },
  };
}

const submission = (id: string) =>
  screen.getAllByTestId('submission').find((row) => row.getAttribute('data-document-id') === id)!;

describe('the add page', () => {
  it('sends a pasted document as JSON and follows it to indexed', { timeout: 10_000 }, async () => {
    const server = fakeServer([
      {
        method: 'POST',
        path: '/v1/ingest/documents',
        reply: () => json(202, { id: 'pasted-note', version: 'v1', status: 'accepted', status_url: '/v1/documents/pasted-note' }),
      },
      statusRoute({ 'pasted-note': ['transforming', 'indexed'] }),
    ]);
    const { user } = renderApp('/add');
    await user.type(screen.getByLabelText('Title'), 'A note');
    await user.type(screen.getByLabelText('Id (optional)'), 'pasted-note');
    await user.type(screen.getByLabelText('Text'), 'The lyrebirdcanal text.');
    await user.click(screen.getByRole('button', { name: 'Add metadata field' }));
    await user.type(screen.getByLabelText('Metadata key 1'), 'year');
    await user.type(screen.getByLabelText('Metadata value 1'), '2024');
    await user.click(screen.getByRole('button', { name: 'Add document' }));

    expect(server.to('/v1/ingest/documents', 'POST')[0]?.json).toEqual({
      id: 'pasted-note',
      title: 'A note',
      text: 'The lyrebirdcanal text.',
      metadata: { year: 2024 },
    });
    const row = await waitFor(() => submission('pasted-note'));
    expect(within(row).getByRole('link', { name: 'pasted-note' })).toHaveAttribute('href', '/documents/pasted-note');
    expect(row).toHaveTextContent('A note');
    await waitFor(() => expect(within(row).getByTestId('status')).toHaveTextContent(/^transforming$/));
    await waitFor(() => expect(within(row).getByTestId('status')).toHaveTextContent(/^indexed$/), { timeout: 3000 });
    const polls = server.to('/v1/documents/pasted-note').length;
    expect(polls).toBe(2);
    // The next poll would come 1.5 s after the second answer: wait past it.
    await new Promise((resolve) => setTimeout(resolve, 1700));
    expect(server.to('/v1/documents/pasted-note')).toHaveLength(polls); // indexed is final: no more polling
    expect(screen.getByLabelText('Text')).toHaveValue(''); // the form is ready for the next one
  });

  it('checks the text and the id before sending', async () => {
    const server = fakeServer([]);
    const { user } = renderApp('/add');
    await user.click(screen.getByRole('button', { name: 'Add document' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Enter the text of the document.');
    await user.type(screen.getByLabelText('Text'), 'text');
    await user.type(screen.getByLabelText('Id (optional)'), 'bad id/with slash');
    expect(screen.getByLabelText('Id (optional)')).toHaveAttribute('aria-invalid', 'true');
    await user.click(screen.getByRole('button', { name: 'Add document' }));
    expect(screen.getByRole('alert')).toHaveTextContent('The id does not fit the pattern');
    expect(server.calls).toHaveLength(0);
  });

  it('sends each chosen file in its own multipart request, and shows a 415 for that file', async () => {
    const server = fakeServer([
      multipartRoute({ 'photo.png': [415, 'unsupported_media_type', 'image/png is not a supported document type'] }),
      statusRoute({ 'alpha.md': ['embedded', 'indexed'], 'beta.txt': ['indexed'] }),
    ]);
    const { user } = renderApp('/add');
    await user.click(screen.getByRole('button', { name: 'Add metadata field for files' }));
    await user.type(screen.getByLabelText('File metadata key 1'), 'source');
    await user.type(screen.getByLabelText('File metadata value 1'), 'upload');
    const files = [
      new File(['# Alpha\n\nzephyrquokka'], 'alpha.md', { type: 'text/markdown' }),
      new File(['marmotfjord'], 'beta.txt', { type: 'text/plain' }),
      new File([new Uint8Array([137, 80, 78, 71])], 'photo.png', { type: 'image/png' }),
    ];
    await user.upload(screen.getByLabelText('Choose files'), files);

    await waitFor(() => expect(server.to('/v1/ingest/documents', 'POST')).toHaveLength(3));
    const posts = server.to('/v1/ingest/documents', 'POST');
    const sent = posts.map((call) => (call.form!.get('file') as File).name).sort();
    expect(sent).toEqual(['alpha.md', 'beta.txt', 'photo.png']);
    for (const call of posts) {
      expect(call.form!.getAll('file')).toHaveLength(1);
      expect(call.form!.get('metadata')).toBe('{"source":"upload"}');
    }

    const rows = () => screen.getAllByTestId('submission');
    await waitFor(() => expect(rows().find((row) => row.textContent?.includes('photo.png'))).toHaveTextContent('refused'));
    const photo = rows().find((row) => row.textContent?.includes('photo.png'))!;
    expect(photo).toHaveTextContent('image/png is not a supported document type (unsupported_media_type)');
    expect(photo).toHaveAttribute('data-document-id', '');
    await waitFor(() => expect(within(submission('alpha.md')).getByTestId('status')).toHaveTextContent(/^indexed$/), { timeout: 3000 });
    await waitFor(() => expect(within(submission('beta.txt')).getByTestId('status')).toHaveTextContent(/^indexed$/));
    expect(rows().map((row) => row.querySelector('strong')?.textContent)).toEqual(['alpha.md', 'beta.txt', 'photo.png']);
  });

  it('takes files dropped on the drop zone', async () => {
    const server = fakeServer([multipartRoute(), statusRoute({ 'dropped.txt': ['indexed'] })]);
    renderApp('/add');
    const file = new File(['dropped text'], 'dropped.txt', { type: 'text/plain' });
    fireEvent.drop(screen.getByTestId('dropzone'), { dataTransfer: { files: [file], types: ['Files'] } });
    await waitFor(() => expect(server.to('/v1/ingest/documents', 'POST')).toHaveLength(1));
    expect(server.calls[0]?.form?.get('metadata')).toBeNull();
    await waitFor(() => expect(within(submission('dropped.txt')).getByTestId('status')).toHaveTextContent(/^indexed$/));
  });

  it('shows the error of a document that failed, and treats unchanged as final', async () => {
    let n = 0;
    const server = fakeServer([
      {
        method: 'POST',
        path: '/v1/ingest/documents',
        reply: () => {
          n += 1;
          const id = n === 1 ? 'broken' : 'same';
          return json(202, { id, version: 'v1', status: n === 1 ? 'accepted' : 'unchanged', status_url: `/v1/documents/${id}` });
        },
      },
      statusRoute({ broken: ['failed'], same: ['indexed'] }, { broken: 'embed: model unavailable' }),
    ]);
    const { user } = renderApp('/add');
    await user.type(screen.getByLabelText('Text'), 'one');
    await user.click(screen.getByRole('button', { name: 'Add document' }));
    await waitFor(() => expect(within(submission('broken')).getByTestId('status')).toHaveTextContent(/^failed$/));
    expect(submission('broken')).toHaveTextContent('embed: model unavailable');

    await user.type(screen.getByLabelText('Text'), 'two');
    await user.click(screen.getByRole('button', { name: 'Add document' }));
    await waitFor(() => expect(within(submission('same')).getByTestId('status')).toHaveTextContent(/^unchanged$/));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.to('/v1/documents/same')).toHaveLength(0);
  });

  it('shows a refused paste (e.g. too large) in the list', async () => {
    fakeServer([{ method: 'POST', path: '/v1/ingest/documents', reply: () => apiError(413, 'document_too_large', 'the document is over 1 MiB') }]);
    const { user } = renderApp('/add');
    await user.type(screen.getByLabelText('Title'), 'Huge');
    await user.type(screen.getByLabelText('Text'), 'x');
    await user.click(screen.getByRole('button', { name: 'Add document' }));
    const row = await screen.findByTestId('submission');
    await waitFor(() => expect(within(row).getByTestId('status')).toHaveTextContent(/^refused$/));
    expect(row).toHaveTextContent('Huge');
    expect(row).toHaveTextContent('the document is over 1 MiB (document_too_large)');
    expect(screen.getByLabelText('Text')).toHaveValue('x'); // kept, to fix and send again
  });

  it('keeps the submissions while one visits other pages', async () => {
    fakeServer([
      multipartRoute(),
      statusRoute({ 'kept.txt': ['indexed'] }),
      { path: '/v1/ingest/documents', reply: () => json(200, { documents: [], next_cursor: null, total: 0, limit: 20 }) },
    ]);
    const { user } = renderApp('/add');
    await user.upload(screen.getByLabelText('Choose files'), new File(['k'], 'kept.txt', { type: 'text/plain' }));
    await waitFor(() => expect(submission('kept.txt')).toBeDefined());
    await user.click(screen.getByRole('link', { name: 'Documents' }));
    await user.click(screen.getByRole('link', { name: 'Add documents' }));
    expect(submission('kept.txt')).toBeDefined();
  });

  it('backs off from 1 s to 5 s', () => {
    expect([1, 2, 3, 4, 5, 6, 20].map(pollDelay)).toEqual([1000, 1500, 2250, 3375, 5000, 5000, 5000]);
  });
});
