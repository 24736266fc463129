import { describe, expect, it } from 'vitest';
import { highlight, markTerms, queryTerms, snippetWindow, termPattern, type Segment } from '../src/highlight';

const marked = (segments: Segment[]) => segments.filter((s) => s.match).map((s) => s.text);
const joined = (segments: Segment[]) => segments.map((s) => s.text).join('');

describe('queryTerms', () => {
  it('takes Unicode word tokens, once each, longest first', () => {
    expect(queryTerms('Café  déjà-vu, café! 2024')).toEqual(['Café', 'déjà', '2024', 'vu']);
  });

  it('drops punctuation and regex metacharacters', () => {
    expect(queryTerms('c++ (foo|bar) .* [x]')).toEqual(['foo', 'bar', 'c', 'x']);
    expect(queryTerms('.*+?')).toEqual([]);
  });
});

describe('markTerms', () => {
  it('marks every occurrence case-insensitively, keeping the text as written', () => {
    const segments = markTerms('Zephyr and zephyr and ZEPHYR.', 'zEpHyR');
    expect(marked(segments)).toEqual(['Zephyr', 'zephyr', 'ZEPHYR']);
    expect(joined(segments)).toBe('Zephyr and zephyr and ZEPHYR.');
  });

  it('matches whole words only', () => {
    expect(marked(markTerms('index indexed reindex index.', 'index'))).toEqual(['index', 'index']);
  });

  it('handles letters outside ASCII, in any case', () => {
    expect(marked(markTerms('ÜBER die Straße, über alles', 'über straße'))).toEqual(['ÜBER', 'Straße', 'über']);
    expect(marked(markTerms('Ελληνικά και ΕΛΛΗΝΙΚΆ', 'ελληνικά'))).toEqual(['Ελληνικά', 'ΕΛΛΗΝΙΚΆ']);
  });

  it('finds terms inside text written without spaces (CJK)', () => {
    expect(marked(markTerms('東京都に住んでいます', '東京'))).toEqual(['東京']);
  });

  it('takes metacharacters in the query literally', () => {
    // "a.b" is the words a and b: "axb" is one other word and must not match a regex "a.b".
    expect(marked(markTerms('axb', 'a.b'))).toEqual([]);
    expect(marked(markTerms('use a.b here', 'a.b'))).toEqual(['a', 'b']);
    expect(() => termPattern(['(', '[', '\\', '*'])).not.toThrow();
    expect(marked(markTerms('price $5 (approx)', '$5 (approx'))).toEqual(['5', 'approx']);
  });

  it('prefers the longest term where two overlap', () => {
    expect(marked(markTerms('new york', 'new new york york'))).toEqual(['new', 'york']);
    expect(marked(markTerms('indexing', 'index indexing'))).toEqual(['indexing']);
  });

  it('marks nothing for an empty or wordless query', () => {
    expect(markTerms('some text', '')).toEqual([{ text: 'some text', match: false }]);
    expect(markTerms('some text', '?!')).toEqual([{ text: 'some text', match: false }]);
  });
});

describe('highlight (snippet)', () => {
  const filler = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');

  it('keeps a short text whole', () => {
    const result = highlight('A short\n\n text about quokkas.', 'quokkas');
    expect(result.leading).toBe(false);
    expect(result.trailing).toBe(false);
    expect(joined(result.segments)).toBe('A short text about quokkas.');
    expect(marked(result.segments)).toEqual(['quokkas']);
  });

  it('cuts about 200 characters around the first match, at word boundaries', () => {
    const text = `${filler(100)} zephyrquokka ${filler(100)}`;
    const result = highlight(text, 'ZephyrQuokka');
    const snippet = joined(result.segments);
    expect(result.leading).toBe(true);
    expect(result.trailing).toBe(true);
    expect(snippet.length).toBeLessThanOrEqual(200);
    expect(snippet.length).toBeGreaterThan(150);
    expect(marked(result.segments)).toEqual(['zephyrquokka']);
    // Some context before the match, more after it; whole words at both ends.
    const at = snippet.indexOf('zephyrquokka');
    expect(at).toBeGreaterThan(20);
    expect(at).toBeLessThan(100);
    expect(snippet).toMatch(/^word\d+ /);
    expect(snippet).toMatch(/ word\d+$/);
  });

  it('starts at the beginning when nothing matches', () => {
    const text = `Beginning here. ${filler(100)}`;
    const result = highlight(text, 'absent');
    expect(result.leading).toBe(false);
    expect(result.trailing).toBe(true);
    expect(joined(result.segments).startsWith('Beginning here.')).toBe(true);
    expect(marked(result.segments)).toEqual([]);
  });

  it('shows the end of the text when the match is near it', () => {
    const text = `${filler(100)} final zephyr`;
    const result = highlight(text, 'zephyr');
    expect(result.trailing).toBe(false);
    expect(joined(result.segments).endsWith('final zephyr')).toBe(true);
  });

  it('marks later occurrences that fall inside the window too', () => {
    const text = `${filler(60)} lyrebird canal and another lyrebird ${filler(60)}`;
    expect(marked(highlight(text, 'lyrebird').segments)).toEqual(['lyrebird', 'lyrebird']);
  });

  it('never cuts a surrogate pair in half', () => {
    const text = '😀'.repeat(300);
    const window = snippetWindow(text, undefined, 201);
    const code = text.charCodeAt(window.end - 1);
    expect(code >= 0xd800 && code <= 0xdbff).toBe(false); // does not end on a high surrogate
  });
});
