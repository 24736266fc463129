import { describe, expect, it } from 'vitest';
import {
  codePointIndex,
  codePointLength,
  highlight,
  highlightHit,
  markTerms,
  queryTerms,
  serverHighlight,
  snippetWindow,
  termPattern,
  toUtf16Ranges,
  type Segment,
} from '../src/highlight';

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

// Offsets as searchapi sends them: code points (Python's and Go's rune indexes), computed
// outside JavaScript for these texts. 😀 is one code point but two UTF-16 units, 🇫🇷 two and
// four, 𝐀 (mathematical bold A) one and two.
const ASTRAL = '😀 Running past the café, 🇫🇷 runners run 𝐀𝐁 fast.';
const ASTRAL_HIGHLIGHTS = [
  { start: 2, end: 9 }, // Running
  { start: 19, end: 23 }, // café
  { start: 28, end: 35 }, // runners
  { start: 36, end: 39 }, // run
  { start: 43, end: 47 }, // fast
];
const slices = (text: string, ranges: { start: number; end: number }[]) => ranges.map((r) => text.slice(r.start, r.end));

describe('code points to UTF-16', () => {
  it('indexes where each code point starts', () => {
    expect(codePointIndex('a😀b')).toEqual([0, 1, 3, 4]);
    expect(codePointIndex('')).toEqual([0]);
    expect(codePointIndex('café')).toEqual([0, 1, 2, 3, 4]); // é precomposed: one unit
    expect(codePointLength(ASTRAL)).toBe(48);
    expect(ASTRAL.length).toBe(53); // what a naive slice would use instead
  });

  it('converts the server offsets past emoji, flags and astral letters', () => {
    const ranges = toUtf16Ranges(ASTRAL, ASTRAL_HIGHLIGHTS);
    expect(slices(ASTRAL, ranges)).toEqual(['Running', 'café', 'runners', 'run', 'fast']);
    // Taken as UTF-16 offsets, the same numbers would be off by one after the emoji:
    expect(slices(ASTRAL, ASTRAL_HIGHLIGHTS)[0]).toBe(' Runnin');
  });

  it('converts in texts of combining marks and ZWJ sequences', () => {
    const text = 'Zürich 👩‍👩‍👧 déjà vu: the gates [open] <b>slowly</b>.'; // ü precomposed
    const ranges = toUtf16Ranges(text, [{ start: 26, end: 31 }, { start: 42, end: 48 }, { start: 13, end: 17 }]);
    expect(slices(text, ranges)).toEqual(['déjà', 'gates', 'slowly']); // sorted by position
    const decomposed = 'cafe\u0301 run'; // e + combining acute: two code points, two units
    expect(slices(decomposed, toUtf16Ranges(decomposed, [{ start: 0, end: 5 }, { start: 6, end: 9 }]))).toEqual(['cafe\u0301', 'run']);
  });

  it('clamps, sorts and merges bad ranges instead of throwing', () => {
    const text = '😀ab😀cd';
    expect(toUtf16Ranges(text, null)).toEqual([]);
    expect(toUtf16Ranges(text, undefined)).toEqual([]);
    const odd = [
      { start: 4, end: 99 }, // past the end: to the end
      { start: 3, end: 1 }, // reversed: dropped
      { start: 2, end: 2 }, // empty: dropped
      { start: -5, end: 2 }, // before the start: from 0
      { start: 1, end: 3 }, // overlaps the previous one: merged
      { start: Number.NaN, end: 3 },
      null,
      'x',
    ] as unknown as { start: number; end: number }[];
    expect(slices(text, toUtf16Ranges(text, odd))).toEqual(['😀ab', 'cd']);
  });
});

describe('server highlights', () => {
  const long = `${'Intro words before. '.repeat(5)}${ASTRAL} ${'And more after it. '.repeat(5)}`;

  it("shows the server's snippet with its highlights, and ellipses when the text goes on", () => {
    const snippet = { text: ASTRAL, start: 100, end: 148, highlights: ASTRAL_HIGHLIGHTS };
    const result = serverHighlight({ text: long, snippet });
    expect(result).not.toBeNull();
    expect(joined(result!.segments)).toBe(ASTRAL);
    expect(marked(result!.segments)).toEqual(['Running', 'café', 'runners', 'run', 'fast']);
    expect(result!.leading).toBe(true);
    expect(result!.trailing).toBe(true);
  });

  it('puts no ellipsis where the snippet reaches the edge of the text (whitespace aside)', () => {
    const whole = serverHighlight({ text: ASTRAL, snippet: { text: ASTRAL, start: 0, end: 48, highlights: [] } });
    expect(whole!.leading).toBe(false);
    expect(whole!.trailing).toBe(false);
    expect(marked(whole!.segments)).toEqual([]);
    // The end counted in code points: 48 is the end even though the string is 53 units long.
    const padded = serverHighlight({ text: `  ${ASTRAL}\n`, snippet: { text: ASTRAL, start: 2, end: 50, highlights: [] } });
    expect(padded!.leading).toBe(false);
    expect(padded!.trailing).toBe(false);
    const head = serverHighlight({ text: long, snippet: { text: 'Intro words', start: 0, end: 11, highlights: [{ start: 0, end: 5 }] } });
    expect(head!.leading).toBe(false);
    expect(head!.trailing).toBe(true);
    expect(marked(head!.segments)).toEqual(['Intro']);
  });

  it("trusts the server's highlights over the query's words", () => {
    // Stemmed: "running" is marked for "run"; "the" (a stop word to the server) is not.
    const hit = { text: 'the running gate', snippet: { text: 'the running gate', start: 0, end: 16, highlights: [{ start: 4, end: 11 }] } };
    const result = highlightHit(hit, 'run the');
    expect(result.source).toBe('server');
    expect(marked(result.segments)).toEqual(['running']);
  });

  it('cuts a passage around the first highlight when only highlights were sent', () => {
    const text = `${Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ')} 😀 target ${'tail '.repeat(60)}`;
    const start = codePointLength(text.slice(0, text.indexOf('target')));
    const result = serverHighlight({ text, highlights: [{ start, end: start + 6 }] });
    expect(marked(result!.segments)).toEqual(['target']);
    expect(result!.leading).toBe(true);
    expect(result!.trailing).toBe(true);
    expect(joined(result!.segments).length).toBeLessThanOrEqual(200);
  });

  it("falls back to the console's own highlighting without snippet and highlights", () => {
    const text = 'Zephyr winds and quokkas.';
    expect(serverHighlight({ text })).toBeNull();
    expect(serverHighlight({ text, snippet: null, highlights: null })).toBeNull();
    const result = highlightHit({ text }, 'zephyr QUOKKAS');
    expect(result.source).toBe('console');
    expect(marked(result.segments)).toEqual(['Zephyr', 'quokkas']);
  });
});
