import { describe, expect, it, vi } from 'vitest';
import { api, ApiError, describeError, withQuery } from '../src/api';
import { getKey, saveKey, useAuthFailure } from '../src/key';
import { renderHook } from '@testing-library/react';
import { apiError, fakeServer, json } from './fakeServer';

describe('api', () => {
  it('sends no Authorization header without a key', async () => {
    const server = fakeServer([{ path: '/v1/ops', reply: () => json(200, { ok: true }) }]);
    await expect(api('/v1/ops')).resolves.toEqual({ ok: true });
    expect(server.calls[0]?.headers.has('Authorization')).toBe(false);
    expect(server.calls[0]?.headers.get('Accept')).toBe('application/json');
  });

  it('sends the saved key as a bearer token, never in the URL', async () => {
    saveKey('  s3cret-key ');
    const server = fakeServer([{ method: 'POST', path: '/v1/search', reply: () => json(200, { hits: [] }) }]);
    await api('/v1/search', { json: { query: 'x' } });
    const call = server.calls[0]!;
    expect(call.headers.get('Authorization')).toBe('Bearer s3cret-key');
    expect(call.url.href).not.toContain('s3cret');
    expect(call.method).toBe('POST');
    expect(call.headers.get('Content-Type')).toBe('application/json');
    expect(call.json).toEqual({ query: 'x' });
  });

  it('lets the browser set the multipart Content-Type of a form', async () => {
    const server = fakeServer([{ method: 'POST', path: '/v1/ingest/documents', reply: () => json(202, {}) }]);
    const form = new FormData();
    form.append('file', new File(['x'], 'a.txt', { type: 'text/plain' }));
    await api('/v1/ingest/documents', { form });
    expect(server.calls[0]?.headers.has('Content-Type')).toBe(false);
    expect(server.calls[0]?.form?.get('file')).toBeInstanceOf(File);
  });

  it('parses the error JSON into an ApiError', async () => {
    fakeServer([{ method: 'POST', path: '/v1/search', reply: () => apiError(400, 'invalid_k', 'k must be 1..100') }]);
    const error = await api('/v1/search', { json: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_k', message: 'k must be 1..100' });
    expect(describeError(error)).toBe('k must be 1..100 (invalid_k)');
  });

  it('handles an error body that is not JSON', async () => {
    fakeServer([
      { path: '/html', reply: () => new Response('<html><body>Bad gateway</body></html>', { status: 502, statusText: 'Bad Gateway' }) },
      { path: '/plain', reply: () => new Response('upstream timed out', { status: 504 }) },
      { path: '/other-json', reply: () => json(500, { detail: 'nope' }) },
    ]);
    await expect(api('/html')).rejects.toMatchObject({ status: 502, code: 'http_502', message: 'searchapi answered 502 Bad Gateway' });
    await expect(api('/plain')).rejects.toMatchObject({ status: 504, code: 'http_504', message: 'searchapi answered 504: upstream timed out' });
    await expect(api('/other-json')).rejects.toMatchObject({ status: 500, code: 'http_500' });
  });

  it('turns a network failure into a clear message', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    const error = await api('/v1/ops').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 0, code: 'network_error' });
    expect(describeError(error)).toMatch(/Could not reach searchapi \(Failed to fetch\)/);
  });

  it('passes an abort through untouched', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new DOMException('aborted', 'AbortError'))));
    await expect(api('/v1/ops')).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('reads Retry-After of a 429', async () => {
    fakeServer([{ path: '/busy', reply: () => json(429, { error: { code: 'rate_limited', message: 'slow down.' } }, { 'Retry-After': '7' }) }]);
    const error = await api('/busy').catch((e: unknown) => e);
    expect(error).toMatchObject({ retryAfterSeconds: 7 });
    expect(describeError(error)).toBe('Too many requests (rate_limited): slow down. Try again in 7 s.');
  });

  it('reports a refused key, and forgets the refusal once a request goes through', async () => {
    saveKey('wrong');
    let ok = false;
    fakeServer([{ path: '/v1/ops', reply: () => (ok ? json(200, {}) : apiError(401, 'unauthorized', 'invalid API key')) }]);
    const { result, rerender } = renderHook(() => useAuthFailure());
    await expect(api('/v1/ops')).rejects.toBeInstanceOf(ApiError);
    rerender();
    expect(result.current).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(describeError(result.current)).toBe(
      'The API key was refused (unauthorized): enter a valid key above. searchapi said: invalid API key',
    );
    ok = true;
    await api('/v1/ops');
    rerender();
    expect(result.current).toBeNull();
  });

  it('describes 401 without a key and 403', () => {
    expect(getKey()).toBe('');
    expect(describeError(new ApiError(401, 'unauthorized', 'missing key'))).toMatch(/^searchapi needs an API key \(unauthorized\)/);
    expect(describeError(new ApiError(403, 'forbidden', 'key is for tenant a'))).toBe(
      'This key may not access this tenant (forbidden): key is for tenant a',
    );
  });

  it('leaves empty query parameters out', () => {
    expect(withQuery('/x', { a: '', b: null, c: undefined, d: 0, e: 'a b&c' })).toBe('/x?d=0&e=a+b%26c');
    expect(withQuery('/x', { a: '' })).toBe('/x');
  });
});
