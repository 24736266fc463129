import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { STORAGE_KEY } from '../src/key';
import { apiError, fakeServer, json } from './fakeServer';
import { renderApp } from './render';

function keyForm() {
  return within(screen.getByRole('form', { name: 'API key settings' }));
}

describe('the API key form', () => {
  it('saves the key in sessionStorage for this tab and forgets it', async () => {
    fakeServer([]);
    const { user } = renderApp('/add');
    const form = keyForm();
    expect(form.getByRole('status')).toHaveTextContent('No key saved');
    expect(form.getByRole('button', { name: 'Forget' })).toBeDisabled();
    const input = form.getByLabelText('API key');
    expect(input).toHaveAttribute('type', 'password');
    await user.type(input, 'abc123');
    await user.click(form.getByRole('button', { name: 'Save' }));
    expect(window.sessionStorage.getItem(STORAGE_KEY)).toBe('abc123');
    expect(form.getByRole('status')).toHaveTextContent('Key saved for this tab');
    expect(input).toHaveValue('');
    expect(window.location.href).not.toContain('abc123');
    await user.click(form.getByRole('button', { name: 'Forget' }));
    expect(window.sessionStorage.getItem(STORAGE_KEY)).toBeNull();
    expect(form.getByRole('status')).toHaveTextContent('No key saved');
  });

  it('uses a key saved earlier in the tab, and saving a key reruns the refused request', async () => {
    window.sessionStorage.setItem(STORAGE_KEY, 'old-key');
    const server = fakeServer([
      {
        path: '/v1/ops',
        reply: (call) =>
          call.headers.get('Authorization') === 'Bearer good-key'
            ? json(200, { queues: [], freshness: null, prometheus_url: null, metrics_available: true, error: null })
            : apiError(401, 'unauthorized', 'unknown API key'),
      },
      { path: '/v1/ingest/dead-letters', reply: () => json(200, { dead_letters: [] }) },
    ]);
    const { user } = renderApp('/ops');
    expect(keyForm().getByRole('status')).toHaveTextContent('Key saved for this tab');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The API key was refused (unauthorized): enter a valid key above.');
    expect(alert).toHaveTextContent('unknown API key');
    expect(server.to('/v1/ops')[0]?.headers.get('Authorization')).toBe('Bearer old-key');

    await user.type(keyForm().getByLabelText('API key'), 'good-key');
    await user.click(keyForm().getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('No queues reported.')).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByRole('alert')).not.toBeInTheDocument());
    expect(server.to('/v1/ops').at(-1)?.headers.get('Authorization')).toBe('Bearer good-key');
  });
});

describe('the layout', () => {
  it('has the landmarks, the main navigation and a heading per page', async () => {
    fakeServer([{ path: '/v1/ingest/documents', reply: () => json(200, { documents: [], next_cursor: null, total: 0, limit: 20 }) }]);
    const { user } = renderApp('/');
    expect(screen.getByRole('banner')).toHaveTextContent('Sluice');
    expect(screen.getByRole('main')).toBeInTheDocument();
    const nav = within(screen.getByRole('navigation', { name: 'Main' }));
    expect(nav.getByRole('link', { name: 'Search' })).toHaveAttribute('aria-current', 'page');
    expect(screen.getByRole('heading', { level: 1, name: 'Search' })).toBeInTheDocument();

    await user.click(nav.getByRole('link', { name: 'Documents' }));
    expect(window.location.pathname).toBe('/documents');
    const heading = screen.getByRole('heading', { level: 1, name: 'Documents' });
    expect(heading).toHaveFocus(); // a route change puts the focus on the new page's heading
    expect(nav.getByRole('link', { name: 'Documents' })).toHaveAttribute('aria-current', 'page');
    expect(nav.getByRole('link', { name: 'Search' })).not.toHaveAttribute('aria-current');
    expect(document.title).toBe('Documents · Sluice');

    await user.click(nav.getByRole('link', { name: 'Add documents' }));
    expect(screen.getByRole('heading', { level: 1, name: 'Add documents' })).toBeInTheDocument();
  });

  it('shows a page for an unknown path', () => {
    fakeServer([]);
    renderApp('/nowhere');
    expect(screen.getByRole('heading', { level: 1, name: 'Page not found' })).toBeInTheDocument();
  });
});
