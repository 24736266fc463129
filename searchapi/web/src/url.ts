// The page's query string as URLSearchParams, re-rendering on every navigation.
import { useSearch } from 'wouter';

export function useUrlParams(): URLSearchParams {
  // useSearch() subscribes to navigation (push, replace, back/forward), but hands the string
  // back decodeURI()d, which would turn a typed "%25" into "%": so parse location.search itself.
  useSearch();
  return new URLSearchParams(window.location.search);
}

/** A route parameter as typed: wouter decodes with decodeURI, which leaves %3A, %40, %2B… */
export function decodeParam(value: string | undefined): string {
  if (!value) return '';
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export function documentPath(id: string): string {
  return `/documents/${encodeURIComponent(id)}`;
}
