// The one fetch wrapper: JSON in and out, the bearer key when one is set, and every failure as
// an ApiError with the HTTP status and searchapi's error code and message.
import { sentence } from './format';
import { clearAuthFailure, getKey, reportAuthFailure } from './key';

export class ApiError extends Error {
  readonly status: number; // 0: the request never got an answer
  readonly code: string;
  readonly retryAfterSeconds: number | null;

  constructor(status: number, code: string, message: string, retryAfterSeconds: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  get isAuth(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export type QueryValue = string | number | boolean | null | undefined;

export interface RequestOptions {
  method?: string;
  /** A JSON body (sent with Content-Type: application/json). */
  json?: unknown;
  /** A multipart body: the browser sets the Content-Type with its boundary. */
  form?: FormData;
  /** Query parameters; null, undefined and "" are left out. */
  query?: Record<string, QueryValue>;
  signal?: AbortSignal;
}

export function withQuery(path: string, query?: Record<string, QueryValue>): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === '') continue;
    params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** A path segment: ids may hold characters such as ":" "@" "+" that must be escaped. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

function retryAfter(response: Response): number | null {
  const header = response.headers.get('Retry-After');
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, Math.round((date - Date.now()) / 1000));
}

/** The ApiError of a non-2xx answer: searchapi's {"error":{code,message}}, or a fallback. */
export async function errorFrom(response: Response): Promise<ApiError> {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // the body could not be read: fall through to the status line
  }
  try {
    const body: unknown = JSON.parse(text);
    const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    if (error && typeof error.code === 'string' && typeof error.message === 'string') {
      return new ApiError(response.status, error.code, error.message, retryAfter(response));
    }
  } catch {
    // not JSON: a proxy's page or plain text
  }
  const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  const plain = text.trim();
  const excerpt = plain && !plain.startsWith('<') && plain.length <= 300 ? `: ${plain}` : '';
  return new ApiError(response.status, `http_${response.status}`, `searchapi answered ${status}${excerpt}`, retryAfter(response));
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const key = getKey();
  const headers = new Headers({ Accept: 'application/json' });
  if (key) headers.set('Authorization', `Bearer ${key}`);
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), {
      method: options.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
      signal: options.signal,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (error) {
    if (isAbort(error)) throw error;
    const reason = error instanceof Error && error.message ? ` (${error.message})` : '';
    throw new ApiError(0, 'network_error', `Could not reach searchapi${reason}: check that it is running and that this page is served by it.`);
  }
  const current = key === getKey(); // the key was not changed while the request was out
  if (!response.ok) {
    const error = await errorFrom(response);
    if (error.isAuth && current) reportAuthFailure(error);
    throw error;
  }
  if (current) clearAuthFailure();
  const text = response.status === 204 ? '' : await response.text();
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, 'invalid_response', `searchapi answered ${response.status} with a body that is not JSON`);
  }
}

/** A sentence for a person: what went wrong and, for the key, what to do. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    switch (error.status) {
      case 0:
        return error.message;
      case 401:
        return getKey()
          ? `The API key was refused (${error.code}): enter a valid key above. searchapi said: ${error.message}`
          : `searchapi needs an API key (${error.code}): enter one above. searchapi said: ${error.message}`;
      case 403:
        return `This key may not access this tenant (${error.code}): ${error.message}`;
      case 429: {
        const wait = error.retryAfterSeconds !== null ? ` Try again in ${error.retryAfterSeconds} s.` : ' Try again shortly.';
        return `Too many requests (${error.code}): ${sentence(error.message)}${wait}`;
      }
      default:
        return `${error.message} (${error.code})`;
    }
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}
