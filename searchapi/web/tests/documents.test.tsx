import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { fakeServer, json, type Call } from './fakeServer';
import { record } from './records';
import { currentUrl, renderApp } from './render';

function listServer(answer: (params: URLSearchParams, call: Call) => unknown) {
  return fakeServer([{ path: '/v1/ingest/documents', reply: (call) => json(200, answer(call.url.searchParams, call)) }]);
}

const rows = () => screen.queryAllByTestId('document-row');

describe('the documents page', () => {
  it('lists the documents in a table', async () => {
    listServer(() => ({
      documents: [record('alpha.md'), record('beta.txt', { status: 'failed', chunks: 0, error: 'boom' })],
      next_cursor: null,
      total: 2,
      limit: 20,
    }));
    renderApp('/documents');
    await waitFor(() => expect(rows()).toHaveLength(2));
    const table = screen.getByRole('table');
    expect(within(table).getByText('Documents of this tenant, by id')).toBeInTheDocument();
    const alpha = within(rows()[0]!);
    expect(alpha.getByRole('link', { name: 'alpha.md' })).toHaveAttribute('href', '/documents/alpha.md');
    expect(alpha.getByTestId('status')).toHaveTextContent(/^indexed$/);
    expect(alpha.getByText('sha256:9f86d…')).toHaveAttribute('title', 'sha256:9f86d081884c7d659a2feaa0c55ad015');
    expect(alpha.getByText('2 minutes ago', { exact: false })).toBeInTheDocument();
    expect(within(rows()[1]!).getByTestId('status')).toHaveTextContent(/^failed$/);
    expect(screen.getByTestId('documents-total')).toHaveTextContent('Documents 1–2 of 2');
    expect(screen.queryByRole('navigation', { name: 'Document pages' })).not.toBeInTheDocument();
  });

  it('filters by status: the request and the URL follow the select', async () => {
    const server = listServer((params) => ({
      documents: params.get('status') === 'failed' ? [record('bad', { status: 'failed' })] : [record('a'), record('b')],
      next_cursor: null,
      total: params.get('status') === 'failed' ? 1 : 2,
      limit: 20,
    }));
    const { user } = renderApp('/documents');
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(server.calls[0]?.url.searchParams.toString()).toBe('limit=20');

    await user.selectOptions(screen.getByLabelText('Status'), 'failed');
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(currentUrl()).toBe('/documents?status=failed');
    expect(server.calls.at(-1)?.url.searchParams.get('status')).toBe('failed');
    expect(screen.getByTestId('documents-total')).toHaveTextContent('Documents 1–1 of 1 with status failed');
  });

  it('reads the filter from the URL', async () => {
    const server = listServer(() => ({ documents: [record('x')], next_cursor: null, total: 1, limit: 50 }));
    renderApp('/documents?status=indexed&prefix=pa&limit=50');
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(Object.fromEntries(server.calls[0]!.url.searchParams)).toEqual({ status: 'indexed', prefix: 'pa', limit: '50' });
    expect(screen.getByLabelText('Status')).toHaveValue('indexed');
    expect(screen.getByLabelText('Id starts with')).toHaveValue('pa');
    expect(screen.getByLabelText('Page size')).toHaveValue('50');
  });

  it('filters by id prefix as one types', async () => {
    const server = listServer((params) => ({
      documents: [record(`${params.get('prefix') ?? ''}doc`)],
      next_cursor: null,
      total: 1,
      limit: 20,
    }));
    const { user } = renderApp('/documents');
    await waitFor(() => expect(rows()).toHaveLength(1));
    await user.type(screen.getByLabelText('Id starts with'), 'pas');
    await waitFor(() => expect(currentUrl()).toBe('/documents?prefix=pas'));
    await waitFor(() => expect(rows()[0]).toHaveAttribute('data-document-id', 'pasdoc'));
    expect(server.calls.at(-1)?.url.searchParams.get('prefix')).toBe('pas');
    // One request for the whole word, not one per key.
    expect(server.calls.filter((call) => call.url.searchParams.has('prefix'))).toHaveLength(1);
  });

  it('pages with the cursors: Next sends next_cursor, Previous goes back', async () => {
    const pages: Record<string, { ids: string[]; next: string | null }> = {
      '': { ids: ['a', 'b'], next: 'cur-2' },
      'cur-2': { ids: ['c', 'd'], next: 'cur-3' },
      'cur-3': { ids: ['e'], next: null },
    };
    const server = listServer((params) => {
      const page = pages[params.get('cursor') ?? '']!;
      return { documents: page.ids.map((id) => record(id)), next_cursor: page.next, total: 5, limit: 2 };
    });
    const { user } = renderApp('/documents?limit=10');
    const ids = () => rows().map((row) => row.getAttribute('data-document-id'));
    await waitFor(() => expect(ids()).toEqual(['a', 'b']));
    const next = () => screen.getByRole('button', { name: 'Next' });
    const previous = () => screen.getByRole('button', { name: 'Previous' });
    expect(previous()).toBeDisabled();

    await user.click(next());
    await waitFor(() => expect(ids()).toEqual(['c', 'd']));
    expect(server.calls.at(-1)?.url.searchParams.get('cursor')).toBe('cur-2');
    expect(screen.getByTestId('documents-total')).toHaveTextContent('Documents 3–4 of 5');

    await user.click(next());
    await waitFor(() => expect(ids()).toEqual(['e']));
    expect(server.calls.at(-1)?.url.searchParams.get('cursor')).toBe('cur-3');
    expect(next()).toBeDisabled();

    await user.click(previous());
    await waitFor(() => expect(ids()).toEqual(['c', 'd']));
    await user.click(previous());
    await waitFor(() => expect(ids()).toEqual(['a', 'b']));
    expect(previous()).toBeDisabled();
  });

  it('invites to add documents when there are none', async () => {
    listServer(() => ({ documents: [], next_cursor: null, total: 0, limit: 20 }));
    renderApp('/documents');
    const empty = await screen.findByTestId('documents-empty');
    expect(empty).toHaveTextContent('No documents yet — add some');
    expect(within(empty).getByRole('link', { name: 'add some' })).toHaveAttribute('href', '/add');
  });

  it('says when no document matches the filter', async () => {
    listServer(() => ({ documents: [], next_cursor: null, total: 0, limit: 20 }));
    renderApp('/documents?status=failed');
    expect(await screen.findByTestId('documents-empty')).toHaveTextContent('No documents match these filters.');
  });

  it("shows the server's error", async () => {
    fakeServer([{ path: '/v1/ingest/documents', reply: () => json(502, { error: { code: 'ingest_unavailable', message: 'ingest did not answer' } }) }]);
    renderApp('/documents');
    expect(await screen.findByRole('alert')).toHaveTextContent('Documents: ingest did not answer (ingest_unavailable)');
  });
});
