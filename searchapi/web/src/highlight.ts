// Highlighting without the server's help: the query's Unicode word tokens, found
// case-insensitively in the text, a ~200 character snippet around the first of them, and the
// snippet as plain segments that the page renders as text and <mark> elements (never HTML).

export interface Segment {
  text: string;
  match: boolean;
}

export interface Highlighted {
  segments: Segment[];
  /** Text was cut before / after the snippet (the page shows an ellipsis). */
  leading: boolean;
  trailing: boolean;
}

const WORD = /[\p{L}\p{M}\p{N}]+/gu;
// Scripts written without spaces between words: their terms match inside longer runs.
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
const WORD_CHAR = '[\\p{L}\\p{M}\\p{N}]';

export const SNIPPET_LENGTH = 200;

/** The query's word tokens (letters, marks, digits), each once, longest first. */
export function queryTerms(query: string): string[] {
  const seen = new Set<string>();
  const terms: string[] = [];
  for (const match of query.normalize('NFC').matchAll(WORD)) {
    const folded = match[0].toLowerCase();
    if (seen.has(folded)) continue;
    seen.add(folded);
    terms.push(match[0]);
  }
  // Longest first, so that the alternation prefers "indexing" over "index".
  return terms.sort((a, b) => b.length - a.length);
}

export function escapeRegExp(text: string): string {
  // Only the syntax characters: in a /u pattern other escapes ("\-") are errors.
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** A global, case-insensitive pattern matching any of the terms as whole words. */
export function termPattern(terms: readonly string[]): RegExp | null {
  const parts = terms
    .filter((term) => term.length > 0)
    .map((term) => {
      const literal = escapeRegExp(term);
      return UNSPACED.test(term) ? literal : `(?<!${WORD_CHAR})${literal}(?!${WORD_CHAR})`;
    });
  return parts.length ? new RegExp(parts.join('|'), 'giu') : null;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Moves a cut off the middle of a surrogate pair. */
function safeCut(text: string, index: number): number {
  return index > 0 && index < text.length && isLowSurrogate(text.charCodeAt(index)) ? index - 1 : index;
}

interface Range {
  start: number;
  end: number;
}

function matches(text: string, pattern: RegExp | null): Range[] {
  if (!pattern) return [];
  const ranges: Range[] = [];
  for (const match of text.matchAll(pattern)) {
    if (match[0].length === 0) continue;
    ranges.push({ start: match.index, end: match.index + match[0].length });
  }
  return ranges;
}

/** The window [start, end) of about `length` characters: around the first match, else the start. */
export function snippetWindow(text: string, first: Range | undefined, length = SNIPPET_LENGTH): Range {
  if (text.length <= length) return { start: 0, end: text.length };
  let start = 0;
  if (first && first.start > 0) {
    // About a third of the window before the match, the rest after it.
    const before = Math.floor(Math.max(0, length - (first.end - first.start)) / 3);
    start = Math.min(Math.max(0, first.start - before), text.length - length);
    if (start > 0) {
      const space = text.indexOf(' ', start);
      if (space !== -1 && space < first.start) start = space + 1; // begin at a word
    }
  }
  let end = Math.min(text.length, start + length);
  if (end < text.length) {
    const space = text.lastIndexOf(' ', end);
    const keep = first ? Math.max(first.end, start + 1) : start + 1;
    if (space >= keep) end = space; // end at a word, keeping the match
  }
  return { start: safeCut(text, start), end: safeCut(text, end) };
}

/** Splits text[start, end) into plain and matched segments. */
export function segmentsOf(text: string, ranges: readonly Range[], start = 0, end = text.length): Segment[] {
  const segments: Segment[] = [];
  let at = start;
  for (const range of ranges) {
    if (range.end <= start || range.start >= end) continue;
    const from = Math.max(range.start, start);
    const to = Math.min(range.end, end);
    if (from > at) segments.push({ text: text.slice(at, from), match: false });
    segments.push({ text: text.slice(from, to), match: true });
    at = to;
  }
  if (at < end) segments.push({ text: text.slice(at, end), match: false });
  return segments;
}

/** The whole text as segments with every occurrence of the query's terms marked. */
export function markTerms(text: string, query: string): Segment[] {
  return segmentsOf(text, matches(text, termPattern(queryTerms(query))));
}

/** A snippet of the text (whitespace collapsed) around the query's first term, marked. */
export function highlight(text: string, query: string, length = SNIPPET_LENGTH): Highlighted {
  const clean = text.normalize('NFC').replace(/\s+/g, ' ').trim();
  const ranges = matches(clean, termPattern(queryTerms(query)));
  const window = snippetWindow(clean, ranges[0], length);
  return {
    segments: segmentsOf(clean, ranges, window.start, window.end),
    leading: window.start > 0,
    trailing: window.end < clean.length,
  };
}
