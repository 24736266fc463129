// The API key: kept in sessionStorage (this tab only, gone when it closes), never in a URL.
// Also the one "the key was refused" state that every request reports to (see api.ts).
import { useSyncExternalStore } from 'react';
import type { ApiError } from './api';

export const STORAGE_KEY = 'sluice.apiKey';

let fallback = ''; // used when sessionStorage is unavailable (privacy modes, sandboxed frames)
let refused: ApiError | null = null;
const listeners = new Set<() => void>();

function emit(): void {
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The saved key, or "" when none is set (requests then carry no Authorization header). */
export function getKey(): string {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY) ?? '';
  } catch {
    return fallback;
  }
}

/** Saves the key for this tab (blank: forgets it) and clears a previous refusal. */
export function saveKey(key: string): void {
  const value = key.trim();
  try {
    if (value) window.sessionStorage.setItem(STORAGE_KEY, value);
    else window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    fallback = value;
  }
  refused = null;
  emit();
}

export function forgetKey(): void {
  saveKey('');
}

/** The current key, re-rendering when it is saved or forgotten. */
export function useApiKey(): string {
  return useSyncExternalStore(subscribe, getKey, () => '');
}

/** Called by the fetch wrapper when searchapi answers 401 or 403 to the current key. */
export function reportAuthFailure(error: ApiError): void {
  if (refused?.status === error.status && refused.message === error.message) return;
  refused = error;
  emit();
}

/** Called by the fetch wrapper when a request with the current key went through. */
export function clearAuthFailure(): void {
  if (refused === null) return;
  refused = null;
  emit();
}

/** The last 401/403 answered to the current key, or null. */
export function useAuthFailure(): ApiError | null {
  return useSyncExternalStore(subscribe, () => refused, () => null);
}
