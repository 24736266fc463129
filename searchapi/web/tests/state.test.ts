import { describe, expect, it } from 'vitest';
import { parseAnyOf, parseIds, parseScalar, rowsToFilter, rowsToMetadata } from '../src/metadata';
import { parseSearchParams, searchRequest, searchUrl } from '../src/searchState';
import { formatDuration, formatWindow, relativeTime, sentence, shortVersion } from '../src/format';

describe('metadata values', () => {
  it('types numbers and booleans, keeps quoted text as text', () => {
    expect(parseScalar(' 42 ')).toBe(42);
    expect(parseScalar('-1.5e3')).toBe(-1500);
    expect(parseScalar('true')).toBe(true);
    expect(parseScalar('false')).toBe(false);
    expect(parseScalar('"42"')).toBe('42');
    expect(parseScalar('007')).toBe('007'); // not a JSON number
    expect(parseScalar('en')).toBe('en');
  });

  it('reads "a, b" as any of a or b', () => {
    expect(parseAnyOf('a, b ,c')).toEqual(['a', 'b', 'c']);
    expect(parseAnyOf('en')).toBe('en');
    expect(parseAnyOf('1, 2')).toEqual([1, 2]);
  });

  it('builds a filter from rows, joining repeated keys and skipping blank ones', () => {
    expect(
      rowsToFilter([
        { key: 'lang', value: 'en' },
        { key: ' package ', value: 'a, b' },
        { key: 'lang', value: 'de' },
        { key: '', value: 'orphan' },
        { key: 'empty', value: '  ' },
      ]),
    ).toEqual({ lang: ['en', 'de'], package: ['a', 'b'] });
    expect(rowsToMetadata([{ key: 'year', value: '2024' }, { key: 'x', value: 'a, b' }])).toEqual({ year: 2024, x: 'a, b' });
  });

  it('reads document ids', () => {
    expect(parseIds('')).toBeUndefined();
    expect(parseIds(' one ')).toBe('one');
    expect(parseIds('one, two,,')).toEqual(['one', 'two']);
  });
});

describe('search state in the URL', () => {
  it('round-trips through the query string', () => {
    const state = {
      query: 'ünïcode & more', mode: 'text' as const, k: 5, perDocument: false, offset: 10, doc: 'a,b',
      meta: [['lang', 'en'] as [string, string]],
    };
    const url = searchUrl(state);
    expect(url).toBe('/?q=%C3%BCn%C3%AFcode+%26+more&mode=text&k=5&offset=10&doc=a%2Cb&meta.lang=en');
    expect(parseSearchParams(new URLSearchParams(url.slice(2)))).toEqual(state);
  });

  it('keeps "one result per document" as group_by=document, absent when off', () => {
    const state = { query: 'gates', mode: 'hybrid' as const, k: 10, perDocument: true, offset: 20, doc: '', meta: [] };
    const url = searchUrl(state);
    expect(url).toBe('/?q=gates&mode=hybrid&k=10&group_by=document&offset=20');
    expect(parseSearchParams(new URLSearchParams(url.slice(2)))).toEqual(state);
    expect(searchUrl({ ...state, perDocument: false })).toBe('/?q=gates&mode=hybrid&k=10&offset=20');
    // Any other grouping is not one the console knows: off.
    expect(parseSearchParams(new URLSearchParams('q=x&group_by=chunk')).perDocument).toBe(false);
    expect(parseSearchParams(new URLSearchParams('q=x')).perDocument).toBe(false);
  });

  it('falls back to defaults for missing or bad values', () => {
    expect(parseSearchParams(new URLSearchParams('q=x&mode=fuzzy&k=500&offset=-3'))).toEqual({
      query: 'x', mode: 'hybrid', k: 100, perDocument: false, offset: 0, doc: '', meta: [],
    });
    expect(parseSearchParams(new URLSearchParams('q=x&k=abc')).k).toBe(10);
  });

  it('sends a filter only when one is set', () => {
    const base = { query: 'q', mode: 'hybrid' as const, k: 10, perDocument: false, offset: 0, doc: '', meta: [] };
    expect(searchRequest(base)).toEqual({ query: 'q', k: 10, mode: 'hybrid', offset: 0 });
    expect(searchRequest({ ...base, doc: 'd1', meta: [['n', '3']] }).filter).toEqual({ metadata: { n: 3 }, document_id: 'd1' });
  });

  it('sends group_by only when one result per document is asked for', () => {
    const base = { query: 'q', mode: 'text' as const, k: 5, perDocument: false, offset: 0, doc: '', meta: [] };
    expect(searchRequest(base)).not.toHaveProperty('group_by');
    expect(searchRequest({ ...base, perDocument: true })).toEqual({ query: 'q', k: 5, mode: 'text', offset: 0, group_by: 'document' });
  });
});

describe('formatting', () => {
  it('says how long ago', () => {
    const now = Date.parse('2025-01-01T12:00:00Z');
    expect(relativeTime('2025-01-01T11:57:00Z', now)).toMatch(/3 minutes ago/);
    expect(relativeTime('not a date', now)).toBe('');
  });

  it('formats durations, windows and versions', () => {
    expect(formatDuration(1.23)).toBe('1.2 s');
    expect(formatDuration(200)).toBe('3 min 20 s');
    expect(formatDuration(7500)).toBe('2 h 5 min');
    expect(formatDuration(null)).toBe('—');
    expect(formatWindow(300)).toBe('5 minutes');
    expect(formatWindow(45)).toBe('45 seconds');
    expect(shortVersion('sha256:0123456789abcdef')).toBe('sha256:01234…');
    expect(shortVersion('v1')).toBe('v1');
    expect(sentence('it is down.')).toBe('it is down.');
    expect(sentence(' it is down ')).toBe('it is down.');
  });
});
