// Key/value rows typed by a person, turned into the JSON the API takes.
import type { Scalar } from './types';

export interface Row {
  id: number;
  key: string;
  value: string;
}

let nextRowId = 1;
export function newRow(key = '', value = ''): Row {
  return { id: nextRowId++, key, value };
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * One value: a JSON number or true/false is sent typed, "quoted" text is sent as the text
 * inside the quotes (to send "42" or "true" as a string), anything else as the string itself.
 */
export function parseScalar(raw: string): Scalar {
  const text = raw.trim();
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) return text.slice(1, -1);
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (NUMBER.test(text)) return Number(text);
  return text;
}

/** A filter value: "a, b" means any of a or b (an array); a single value stays a scalar. */
export function parseAnyOf(raw: string): Scalar | Scalar[] {
  const parts = raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map(parseScalar);
  if (parts.length === 1) return parts[0] as Scalar;
  return parts;
}

/** Rows with a key, as a metadata filter (repeated keys add to the key's any-of list). */
export function rowsToFilter(rows: readonly Pick<Row, 'key' | 'value'>[]): Record<string, Scalar | Scalar[]> {
  const filter: Record<string, Scalar | Scalar[]> = {};
  for (const row of rows) {
    const key = row.key.trim();
    if (!key || !row.value.trim()) continue;
    const value = parseAnyOf(row.value);
    const previous = filter[key];
    if (previous === undefined) {
      filter[key] = value;
    } else {
      filter[key] = [...(Array.isArray(previous) ? previous : [previous]), ...(Array.isArray(value) ? value : [value])];
    }
  }
  return filter;
}

/** Rows with a key, as a document's metadata (each value one scalar, later keys win). */
export function rowsToMetadata(rows: readonly Pick<Row, 'key' | 'value'>[]): Record<string, Scalar> {
  const metadata: Record<string, Scalar> = {};
  for (const row of rows) {
    const key = row.key.trim();
    if (key) metadata[key] = parseScalar(row.value);
  }
  return metadata;
}

/** Comma-separated ids: none → undefined, one → the id, several → an array. */
export function parseIds(raw: string): string | string[] | undefined {
  const ids = raw
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id.length > 0);
  if (ids.length === 0) return undefined;
  return ids.length === 1 ? ids[0] : ids;
}
