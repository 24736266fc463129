import type { QueryClient } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App, createQueryClient } from '../src/App';

const clients: QueryClient[] = [];

/** The whole console at a URL, with its own query cache. */
export function renderApp(path = '/') {
  window.history.replaceState(null, '', path);
  const client = createQueryClient();
  clients.push(client);
  const user = userEvent.setup();
  const view = render(<App client={client} />);
  return { ...view, client, user };
}

export function resetClients(): void {
  for (const client of clients.splice(0)) client.clear();
}

/** location.pathname + location.search */
export function currentUrl(): string {
  return `${window.location.pathname}${window.location.search}`;
}
