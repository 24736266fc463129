import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { STORAGE_KEY } from '../src/key';
import type { SearchHit, SearchRequest } from '../src/types';
import { apiError, fakeServer, json, type Call } from './fakeServer';
import { currentUrl, renderApp } from './render';

function hit(n: number, change: Partial<SearchHit> = {}): SearchHit {
  return {
    chunk_id: `doc-${n}#0`,
    document_id: `doc-${n}`,
    chunk: 0,
    score: 0.8 - n / 100,
    title: `Document ${n}`,
    text: `Chunk ${n} says something about zephyr winds and quokkas.`,
    metadata: { lang: 'en' },
    ...change,
  };
}

/** searchapi answering `count` hits (or fewer past `total`) for whatever page is asked. */
function searchServer(total = 3, took = 12.3) {
  return fakeServer([
    {
      method: 'POST',
      path: '/v1/search',
      reply: (call: Call) => {
        const body = call.json as SearchRequest;
        const hits = Array.from({ length: Math.max(0, Math.min(body.k, total - body.offset)) }, (_, i) =>
          hit(body.offset + i + 1),
        );
        return json(200, { hits, mode: body.mode, k: body.k, offset: body.offset, took_ms: took });
      },
    },
  ]);
}

const bodies = (calls: Call[]) => calls.map((call) => call.json as SearchRequest);

describe('the search page', () => {
  it('shows a hint and sends nothing before a query', () => {
    const server = searchServer();
    renderApp('/');
    expect(screen.getByRole('heading', { name: 'Search your documents' })).toBeInTheDocument();
    expect(screen.getByRole('searchbox', { name: 'Search' })).toHaveValue('');
    expect(server.calls).toHaveLength(0);
  });

  it('runs the search of ?q= at once, as the first request, and renders the hits', async () => {
    const server = searchServer(2);
    renderApp('/?q=Zephyr');
    expect(server.calls).toHaveLength(1); // sent during the first render's effects: nothing before it
    expect(server.calls[0]).toMatchObject({ method: 'POST', path: '/v1/search' });
    expect(server.calls[0]?.json).toEqual({ query: 'Zephyr', k: 10, mode: 'hybrid', offset: 0 });

    const hits = await screen.findAllByTestId('hit');
    expect(hits).toHaveLength(2);
    const first = within(hits[0]!);
    expect(hits[0]).toHaveAttribute('data-document-id', 'doc-1');
    expect(first.getByRole('link', { name: 'Document 1' })).toHaveAttribute('href', '/documents/doc-1');
    const marks = hits[0]!.querySelectorAll('mark');
    expect(Array.from(marks, (mark) => mark.textContent)).toEqual(['zephyr']);
    expect(first.getByTestId('score')).toHaveTextContent('0.790');
    expect(first.getByText('Chunk')).toBeInTheDocument();
    expect(first.getByText('lang:')).toBeInTheDocument();
    expect(screen.getByTestId('latency')).toHaveTextContent(/^12 ms in searchapi, \d+(\.\d)? ms round trip$/);
    expect(within(screen.getByTestId('results')).getByRole('status')).toHaveTextContent('Results 1–2 for “Zephyr” (hybrid)');
    expect(screen.getByRole('searchbox', { name: 'Search' })).toHaveValue('Zephyr');
  });

  it("cites a file's pages and section, and shows nothing for chunks without them", async () => {
    fakeServer([
      {
        method: 'POST',
        path: '/v1/search',
        reply: () =>
          json(200, {
            hits: [
              hit(1, { page: 3, page_end: 3, section: '' }),
              hit(2, { page: 1, page_end: 2, section: 'Install > Linux' }),
              hit(3, { page: null, page_end: null, section: '' }),
            ],
            mode: 'hybrid',
            k: 10,
            offset: 0,
            took_ms: 3,
          }),
      },
    ]);
    renderApp('/?q=zephyr');
    const [one, two, three] = (await screen.findAllByTestId('hit')).map((h) => within(h));
    expect(one!.getByTestId('page')).toHaveTextContent('3');
    expect(one!.getByText('Page')).toBeInTheDocument();
    expect(one!.queryByTestId('section')).toBeNull();
    expect(two!.getByTestId('page')).toHaveTextContent('1–2');
    expect(two!.getByText('Pages')).toBeInTheDocument();
    expect(two!.getByTestId('section')).toHaveTextContent('Install > Linux');
    expect(three!.queryByTestId('page')).toBeNull();
    expect(three!.queryByTestId('section')).toBeNull();
  });

  it('puts the search in the URL (a history entry each) and back shows the previous one', async () => {
    const server = searchServer(1);
    const { user } = renderApp('/');
    const box = screen.getByRole('searchbox', { name: 'Search' });
    await user.type(box, 'first words');
    await user.click(screen.getByRole('button', { name: 'Search' }));
    await screen.findByTestId('hit');
    expect(currentUrl()).toBe('/?q=first+words&mode=hybrid&k=10');

    await user.clear(box);
    await user.type(box, 'second');
    await user.click(screen.getByRole('radio', { name: 'full-text' }));
    const k = screen.getByLabelText('Results per page (k)');
    await user.clear(k);
    await user.type(k, '5');
    await user.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() => expect(currentUrl()).toBe('/?q=second&mode=text&k=5'));
    await waitFor(() => expect(bodies(server.calls).at(-1)).toEqual({ query: 'second', k: 5, mode: 'text', offset: 0 }));

    act(() => window.history.back());
    await waitFor(() => expect(currentUrl()).toBe('/?q=first+words&mode=hybrid&k=10'));
    await waitFor(() => expect(box).toHaveValue('first words'));
    expect(screen.getByRole('radio', { name: 'hybrid' })).toBeChecked();
    expect(screen.getByLabelText('Results per page (k)')).toHaveValue(10);
  });

  it('sends metadata and document id filters, typed as documented', async () => {
    const server = searchServer(1);
    const { user } = renderApp('/');
    await user.type(screen.getByRole('searchbox', { name: 'Search' }), 'quokka');
    await user.click(screen.getByText('Filters'));
    const addRow = screen.getByRole('button', { name: 'Add metadata filter' });
    await user.click(addRow);
    await user.click(addRow);
    await user.click(addRow);
    await user.type(screen.getByLabelText('Filter key 1'), 'lang');
    await user.type(screen.getByLabelText('Filter value 1'), 'en');
    await user.type(screen.getByLabelText('Filter key 2'), 'package');
    await user.type(screen.getByLabelText('Filter value 2'), 'a, b');
    await user.type(screen.getByLabelText('Filter key 3'), 'year');
    await user.type(screen.getByLabelText('Filter value 3'), '2024');
    await user.click(screen.getByRole('button', { name: 'Remove filter row 3' }));
    await user.click(addRow);
    await user.type(screen.getByLabelText('Filter key 3'), 'draft');
    await user.type(screen.getByLabelText('Filter value 3'), 'false');
    await user.type(screen.getByLabelText('Document ids'), 'd1, d2');
    await user.click(screen.getByRole('button', { name: 'Search' }));

    await screen.findByTestId('hit');
    expect(server.calls[0]?.json).toEqual({
      query: 'quokka',
      k: 10,
      mode: 'hybrid',
      offset: 0,
      filter: { metadata: { lang: 'en', package: ['a', 'b'], draft: false }, document_id: ['d1', 'd2'] },
    });
    const params = new URLSearchParams(window.location.search);
    expect(params.get('meta.lang')).toBe('en');
    expect(params.get('meta.package')).toBe('a, b');
    expect(params.get('meta.year')).toBeNull();
    expect(params.get('doc')).toBe('d1, d2');
  });

  it('restores filters from the URL', async () => {
    const server = searchServer(1);
    renderApp('/?q=x&mode=dense&k=3&meta.lang=de&doc=only');
    await screen.findByTestId('hit');
    expect(server.calls[0]?.json).toEqual({
      query: 'x', k: 3, mode: 'dense', offset: 0, filter: { metadata: { lang: 'de' }, document_id: 'only' },
    });
    expect(screen.getByRole('radio', { name: 'dense' })).toBeChecked();
    expect(screen.getByLabelText('Filter key 1')).toHaveValue('lang');
    expect(screen.getByLabelText('Document ids')).toHaveValue('only');
  });

  it('pages with Next and Previous by k', async () => {
    const server = searchServer(5);
    const { user } = renderApp('/?q=zephyr&k=2');
    await screen.findAllByTestId('hit');
    const previous = () => screen.getByRole('button', { name: 'Previous' });
    const next = () => screen.getByRole('button', { name: 'Next' });
    expect(previous()).toBeDisabled();
    expect(next()).toBeEnabled();

    await user.click(next());
    await waitFor(() => expect(screen.getAllByTestId('hit')[0]).toHaveAttribute('data-document-id', 'doc-3'));
    expect(currentUrl()).toBe('/?q=zephyr&mode=hybrid&k=2&offset=2');
    expect(bodies(server.calls).at(-1)?.offset).toBe(2);
    expect(screen.getByTestId('results').querySelector('ol.hits')).toHaveAttribute('start', '3');

    await user.click(next());
    await waitFor(() => expect(screen.getAllByTestId('hit')).toHaveLength(1)); // doc-5 only: fewer than k
    expect(bodies(server.calls).at(-1)?.offset).toBe(4);
    expect(next()).toBeDisabled();
    expect(previous()).toBeEnabled();

    await user.click(previous());
    await waitFor(() => expect(currentUrl()).toBe('/?q=zephyr&mode=hybrid&k=2&offset=2'));
    await waitFor(() => expect(screen.getAllByTestId('hit')[0]).toHaveAttribute('data-document-id', 'doc-3'));
  });

  it('stops Next at the offset limit of 1000', async () => {
    searchServer(2000);
    renderApp('/?q=zephyr&k=100&offset=1000');
    await screen.findAllByTestId('hit');
    expect(screen.getByRole('button', { name: 'Next' })).toBeDisabled();
  });

  it('says when nothing matched, with things to try', async () => {
    searchServer(0);
    renderApp('/?q=nothing+here&mode=text&meta.lang=en');
    expect(await screen.findByText('No results for “nothing here”.')).toBeInTheDocument();
    const tips = within(screen.getByTestId('no-results'));
    expect(tips.getByRole('link', { name: 'Search in hybrid mode' })).toHaveAttribute('href', '/?q=nothing+here&mode=hybrid&k=10&meta.lang=en');
    expect(tips.getByRole('link', { name: 'Search in dense mode' })).toBeInTheDocument();
    expect(tips.getByRole('link', { name: 'Search without the filters' })).toHaveAttribute('href', '/?q=nothing+here&mode=text&k=10');
    expect(tips.getByRole('link', { name: 'Documents' })).toHaveAttribute('href', '/documents');
    expect(screen.queryByRole('button', { name: 'Next' })).not.toBeInTheDocument();
  });

  it("shows the server's error as an alert", async () => {
    fakeServer([{ method: 'POST', path: '/v1/search', reply: () => apiError(400, 'invalid_query', 'the query is empty after trimming') }]);
    renderApp('/?q=%20x');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Search failed: the query is empty after trimming (invalid_query)');
    expect(screen.queryByTestId('hit')).not.toBeInTheDocument();
  });

  it('says when searchapi cannot be reached', async () => {
    fakeServer([{ method: 'POST', path: '/v1/search', reply: () => Promise.reject(new TypeError('Failed to fetch')) }]);
    renderApp('/?q=x');
    expect(await screen.findByRole('alert')).toHaveTextContent('Could not reach searchapi');
  });

  it('explains a refused key, and searches again once a key is saved', async () => {
    window.sessionStorage.setItem(STORAGE_KEY, 'wrong');
    const server = fakeServer([
      {
        method: 'POST',
        path: '/v1/search',
        reply: (call) =>
          call.headers.get('Authorization') === 'Bearer right'
            ? json(200, { hits: [hit(1)], mode: 'hybrid', k: 10, offset: 0, took_ms: 3 })
            : apiError(401, 'unauthorized', 'missing or unknown API key'),
      },
    ]);
    const { user } = renderApp('/?q=zephyr');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The API key was refused (unauthorized): enter a valid key above.');
    expect(alert).toHaveTextContent('missing or unknown API key');
    expect(screen.getAllByRole('alert')).toHaveLength(1); // said once, not once per request

    await user.type(screen.getByLabelText('API key'), 'right');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByTestId('hit')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(server.calls).toHaveLength(2);
  });

  it('explains a key of another tenant (403)', async () => {
    window.sessionStorage.setItem(STORAGE_KEY, 'other');
    fakeServer([{ method: 'POST', path: '/v1/search', reply: () => apiError(403, 'forbidden', 'this key is for tenant acme') }]);
    renderApp('/?q=zephyr');
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'This key may not access this tenant (forbidden): this key is for tenant acme',
    );
  });

  it("renders the server's snippet and highlights as text and marks, never HTML", async () => {
    // Code-point offsets (as searchapi counts): the emoji is one code point, two UTF-16 units.
    const text = `${'Earlier text. '.repeat(20)}😀 <b>Running</b> [gates] & runners. ${'Later text. '.repeat(20)}`;
    const snippet = { text: '😀 <b>Running</b> [gates] & runners.', start: 280, end: 315, highlights: [{ start: 5, end: 12 }, { start: 27, end: 34 }] };
    fakeServer([
      {
        method: 'POST',
        path: '/v1/search',
        reply: () =>
          json(200, {
            hits: [hit(1, { text, snippet, highlights: [{ start: 285, end: 292 }, { start: 307, end: 314 }] })],
            mode: 'hybrid', k: 10, offset: 0, took_ms: 2,
          }),
      },
    ]);
    renderApp('/?q=run');
    const found = await screen.findByTestId('hit');
    const passage = found.querySelector('.snippet')!;
    expect(passage).toHaveAttribute('data-highlights', 'server');
    expect(Array.from(passage.querySelectorAll('mark'), (mark) => mark.textContent)).toEqual(['Running', 'runners']);
    expect(passage.querySelector('b')).toBeNull(); // the text's "<b>" is text
    expect(passage.textContent).toBe('… 😀 <b>Running</b> [gates] & runners. …');
  });

  it('highlights in the console when searchapi sends no snippet (an older server)', async () => {
    searchServer(1);
    renderApp('/?q=quokkas');
    const passage = (await screen.findByTestId('hit')).querySelector('.snippet')!;
    expect(passage).toHaveAttribute('data-highlights', 'console');
    expect(Array.from(passage.querySelectorAll('mark'), (mark) => mark.textContent)).toEqual(['quokkas']);
  });

  it('asks for one result per document, keeps it in the URL and shows the other passages', async () => {
    const server = fakeServer([
      {
        method: 'POST',
        path: '/v1/search',
        reply: (call) => {
          const grouped = (call.json as SearchRequest).group_by === 'document';
          const hits = grouped
            ? [hit(1, { more_chunks: 3 }), hit(2, { more_chunks: 1 }), hit(3, { more_chunks: 0 })]
            : [hit(1), hit(1, { chunk_id: 'doc-1#2', chunk: 2 })];
          return json(200, { hits, mode: 'hybrid', k: 10, offset: 0, took_ms: 2 });
        },
      },
    ]);
    const { user } = renderApp('/');
    await user.type(screen.getByRole('searchbox', { name: 'Search' }), 'zephyr');
    const toggle = screen.getByRole('checkbox', { name: 'One result per document' });
    expect(toggle).not.toBeChecked();
    await user.click(toggle);
    await user.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() => expect(screen.getAllByTestId('hit')).toHaveLength(3));
    expect(currentUrl()).toBe('/?q=zephyr&mode=hybrid&k=10&group_by=document');
    expect(server.calls[0]?.json).toEqual({ query: 'zephyr', k: 10, mode: 'hybrid', offset: 0, group_by: 'document' });
    expect(within(screen.getByTestId('results')).getByRole('status')).toHaveTextContent(
      'Results 1–3 for “zephyr” (hybrid, one per document)',
    );

    const [one, two, three] = screen.getAllByTestId('hit').map((h) => within(h));
    const more = one!.getByRole('link', { name: '+3 more passages in this document' });
    expect(two!.getByTestId('more-passages')).toHaveTextContent('+1 more passage in this document');
    expect(three!.queryByTestId('more-passages')).toBeNull(); // nothing else matched

    // The link: the same search in that document, every passage.
    expect(more).toHaveAttribute('href', '/?q=zephyr&mode=hybrid&k=10&doc=doc-1');
    await user.click(more);
    await waitFor(() => expect(screen.getAllByTestId('hit')).toHaveLength(2));
    expect(bodies(server.calls).at(-1)).toEqual({ query: 'zephyr', k: 10, mode: 'hybrid', offset: 0, filter: { document_id: 'doc-1' } });
    expect(screen.getByRole('checkbox', { name: 'One result per document' })).not.toBeChecked();
    expect(screen.queryByTestId('more-passages')).toBeNull();

    act(() => window.history.back());
    await waitFor(() => expect(currentUrl()).toBe('/?q=zephyr&mode=hybrid&k=10&group_by=document'));
    await waitFor(() => expect(screen.getByRole('checkbox', { name: 'One result per document' })).toBeChecked());
  });

  it('restores one result per document from the URL', async () => {
    const server = searchServer(1);
    renderApp('/?q=x&mode=text&k=3&group_by=document');
    await screen.findByTestId('hit');
    expect(server.calls[0]?.json).toEqual({ query: 'x', k: 3, mode: 'text', offset: 0, group_by: 'document' });
    expect(screen.getByRole('checkbox', { name: 'One result per document' })).toBeChecked();
  });

  it('searching the same thing again asks again', async () => {
    const server = searchServer(1);
    const { user } = renderApp('/?q=again&mode=hybrid&k=10');
    await screen.findByTestId('hit');
    await user.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() => expect(server.calls).toHaveLength(2));
  });
});
