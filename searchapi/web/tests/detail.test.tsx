import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Chunk } from '../src/types';
import { apiError, fakeServer, json, type Route } from './fakeServer';
import { record } from './records';
import { renderApp } from './render';

function chunk(n: number): Chunk {
  return { chunk: n, title: 'Alpha', text: `Text of chunk ${n} with zephyrquokka`, version: 'v1', metadata: { part: n } };
}

function chunkRoute(total: number): Route {
  return {
    path: /^\/v1\/documents\/[^/]+\/chunks$/,
    reply: (call) => {
      const limit = Number(call.url.searchParams.get('limit'));
      const offset = Number(call.url.searchParams.get('offset'));
      const chunks = Array.from({ length: Math.max(0, Math.min(limit, total - offset)) }, (_, i) => chunk(offset + i));
      return json(200, { chunks, total, limit, offset });
    },
  };
}

describe('the document page', () => {
  it('shows the record and its chunks', async () => {
    const server = fakeServer([
      { path: '/v1/documents/notes%3A2024%40team', reply: () => json(200, record('notes:2024@team', { chunks: 2, indexed_chunks: 2 })) },
      chunkRoute(2),
    ]);
    renderApp('/documents/notes%3A2024%40team');
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Document notes:2024@team');
    await screen.findAllByTestId('chunk');
    expect(screen.getByText('sha256:9f86d081884c7d659a2feaa0c55ad015')).toBeInTheDocument();
    expect(screen.getByText('2 (2 indexed)')).toBeInTheDocument();
    const chunks = screen.getAllByTestId('chunk');
    expect(chunks).toHaveLength(2);
    expect(chunks[1]).toHaveTextContent('Text of chunk 1 with zephyrquokka');
    expect(within(chunks[1]!).getByRole('list', { name: 'Metadata of chunk 1' })).toHaveTextContent('part: 1');
    expect(server.to(/chunks$/)[0]?.url.search).toBe('?limit=50&offset=0');
    expect(screen.queryByRole('navigation', { name: 'Chunk pages' })).not.toBeInTheDocument();
  });

  it('shows why a document failed', async () => {
    fakeServer([
      { path: '/v1/documents/bad', reply: () => json(200, record('bad', { status: 'failed', chunks: 0, error: 'transform: no text' })) },
      chunkRoute(0),
    ]);
    renderApp('/documents/bad');
    expect(await screen.findByTestId('document-error')).toHaveTextContent('Failedtransform: no text');
    expect(await screen.findByText('No chunks stored for this document.')).toBeInTheDocument();
  });

  it('pages through more than 50 chunks', async () => {
    const server = fakeServer([{ path: '/v1/documents/big', reply: () => json(200, record('big', { chunks: 120 })) }, chunkRoute(120)]);
    const { user } = renderApp('/documents/big');
    await waitFor(() => expect(screen.getAllByTestId('chunk')).toHaveLength(50));
    const pager = within(screen.getByRole('navigation', { name: 'Chunk pages' }));
    await user.click(pager.getByRole('button', { name: 'Next' }));
    await waitFor(() => expect(screen.getAllByTestId('chunk')[0]).toHaveAttribute('data-chunk', '50'));
    expect(server.to(/chunks$/).at(-1)?.url.searchParams.get('offset')).toBe('50');
    await user.click(pager.getByRole('button', { name: 'Next' }));
    await waitFor(() => expect(screen.getAllByTestId('chunk')).toHaveLength(20));
    expect(pager.getByRole('button', { name: 'Next' })).toBeDisabled();
    expect(screen.getByText('Chunks 101–120 of 120')).toBeInTheDocument();
  });

  it('deletes only after the confirmation, and says so', async () => {
    let deleted = false;
    const server = fakeServer([
      { path: '/v1/documents/alpha.md', reply: () => json(200, record('alpha.md', { status: deleted ? 'deleted' : 'indexed' })) },
      chunkRoute(1),
      {
        method: 'DELETE',
        path: '/v1/ingest/documents/alpha.md',
        reply: () => {
          deleted = true;
          return json(202, { id: 'alpha.md', version: 'v2', status: 'deleted', status_url: '/v1/documents/alpha.md' });
        },
      },
    ]);
    const { user } = renderApp('/documents/alpha.md');
    await user.click(await screen.findByRole('button', { name: 'Delete' }));
    const confirm = within(screen.getByRole('group', { name: /Delete document “alpha.md”\?/ }));
    expect(confirm.getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await user.click(confirm.getByRole('button', { name: 'Cancel' }));
    expect(screen.getByRole('button', { name: 'Delete' })).toHaveFocus();
    await user.click(screen.getByRole('button', { name: 'Delete' }));
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('button', { name: 'Delete document' })).not.toBeInTheDocument();
    expect(server.to('/v1/ingest/documents/alpha.md', 'DELETE')).toHaveLength(0);

    await user.click(screen.getByRole('button', { name: 'Delete' }));
    await user.click(screen.getByRole('button', { name: 'Delete document' }));
    expect(await screen.findByTestId('deleted-message')).toHaveTextContent('Deleted document “alpha.md” (status deleted)');
    expect(server.to('/v1/ingest/documents/alpha.md', 'DELETE')).toHaveLength(1);
    await waitFor(() => expect(screen.getAllByTestId('status')[0]).toHaveTextContent('deleted'));
    expect(screen.queryByRole('button', { name: 'Delete' })).not.toBeInTheDocument();
  });

  it('shows why a delete was refused', async () => {
    fakeServer([
      { path: '/v1/documents/x', reply: () => json(200, record('x')) },
      chunkRoute(1),
      { method: 'DELETE', path: '/v1/ingest/documents/x', reply: () => apiError(404, 'document_not_found', 'no document x') },
    ]);
    const { user } = renderApp('/documents/x');
    await user.click(await screen.findByRole('button', { name: 'Delete' }));
    await user.click(screen.getByRole('button', { name: 'Delete document' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Could not delete: no document x (document_not_found)');
  });

  it('says when there is no such document', async () => {
    const server = fakeServer([{ path: '/v1/documents/ghost', reply: () => apiError(404, 'not_found', 'no document ghost') }]);
    renderApp('/documents/ghost');
    expect(await screen.findByTestId('not-found')).toHaveTextContent('No document with id “ghost”.');
    expect(server.to(/chunks$/)).toHaveLength(0);
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });
});
