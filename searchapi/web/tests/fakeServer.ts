// A fake searchapi at the fetch boundary: routes answer Responses, every call is recorded.
import { vi } from 'vitest';

export interface Call {
  method: string;
  url: URL;
  path: string;
  headers: Headers;
  body: BodyInit | null | undefined;
  /** The JSON body, parsed (undefined for none or a form). */
  json: unknown;
  /** The multipart body, when one was sent. */
  form: FormData | undefined;
}

export type Reply = Response | Promise<Response>;
export interface Route {
  method?: string;
  /** An exact path, or a pattern tested against the path. */
  path: string | RegExp;
  reply: (call: Call, count: number) => Reply;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

export function apiError(status: number, code: string, message: string): Response {
  return json(status, { error: { code, message } });
}

export interface FakeServer {
  calls: Call[];
  /** The calls to a path (and method). */
  to: (path: string | RegExp, method?: string) => Call[];
  fetch: ReturnType<typeof vi.fn>;
}

export function fakeServer(routes: Route[]): FakeServer {
  const calls: Call[] = [];
  const counts = new Map<Route, number>();
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), window.location.origin);
    const method = (init.method ?? 'GET').toUpperCase();
    const body = init.body;
    let parsed: unknown;
    if (typeof body === 'string') parsed = JSON.parse(body);
    const call: Call = {
      method,
      url,
      path: url.pathname,
      headers: new Headers(init.headers),
      body,
      json: parsed,
      form: body instanceof FormData ? body : undefined,
    };
    calls.push(call);
    if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError');
    const route = routes.find(
      (candidate) =>
        (candidate.method ?? 'GET') === method &&
        (typeof candidate.path === 'string' ? candidate.path === url.pathname : candidate.path.test(url.pathname)),
    );
    if (!route) return apiError(599, 'unrouted', `the fake server has no route for ${method} ${url.pathname}`);
    const count = (counts.get(route) ?? 0) + 1;
    counts.set(route, count);
    return route.reply(call, count);
  });
  vi.stubGlobal('fetch', fetch);
  return {
    calls,
    fetch,
    to: (path, method) =>
      calls.filter(
        (call) =>
          (method === undefined || call.method === method) &&
          (typeof path === 'string' ? call.path === path : path.test(call.path)),
      ),
  };
}
