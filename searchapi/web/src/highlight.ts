// A hit's passage with the query's words marked, as plain segments that the page renders as
// text and <mark> elements (never HTML). searchapi sends the passage (`snippet`) and the matched
// words (`highlights`, by stemmed terms) as code-point offsets; older servers send neither, and
// the console finds the query's Unicode word tokens itself, case-insensitively, in a ~200
// character snippet around the first of them.
import type { HitSnippet, TextRange } from './types';

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

/** [start, end) in UTF-16 units: what JavaScript strings index. */
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

const SPACE = /\s/;

function nextSpace(text: string, from: number): number {
  for (let i = from; i < text.length; i++) if (SPACE.test(text.charAt(i))) return i;
  return -1;
}

function previousSpace(text: string, from: number): number {
  for (let i = Math.min(from, text.length - 1); i >= 0; i--) if (SPACE.test(text.charAt(i))) return i;
  return -1;
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
      const space = nextSpace(text, start);
      if (space !== -1 && space < first.start) start = space + 1; // begin at a word
    }
  }
  let end = Math.min(text.length, start + length);
  if (end < text.length) {
    const space = previousSpace(text, end);
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

/** Where each code point of the text starts, in UTF-16 units; the last entry is text.length. */
export function codePointIndex(text: string): number[] {
  const index: number[] = [];
  let at = 0;
  for (const char of text) {
    index.push(at);
    at += char.length; // 2 for a character beyond the BMP (a surrogate pair), else 1
  }
  index.push(at);
  return index;
}

/** The text's length in code points. */
export function codePointLength(text: string): number {
  let length = 0;
  for (const _char of text) length++;
  return length;
}

/**
 * searchapi's code-point ranges as UTF-16 ranges of the text: clamped to it, sorted, without
 * empty ranges, overlapping ones merged. Malformed entries are dropped, never thrown on.
 */
export function toUtf16Ranges(text: string, ranges: readonly TextRange[] | null | undefined): Range[] {
  if (!Array.isArray(ranges) || ranges.length === 0) return [];
  const index = codePointIndex(text);
  const last = index.length - 1;
  const clamp = (value: number) => Math.min(last, Math.max(0, Math.trunc(value)));
  const clean = ranges
    .filter((range) => range !== null && typeof range === 'object' && Number.isFinite(range.start) && Number.isFinite(range.end))
    .map((range) => ({ start: clamp(range.start), end: clamp(range.end) }))
    .filter((range) => range.end > range.start)
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: { start: number; end: number }[] = [];
  for (const range of clean) {
    const previous = merged.at(-1);
    if (previous && range.start < previous.end) previous.end = Math.max(previous.end, range.end);
    else merged.push(range);
  }
  return merged.map((range) => ({ start: index[range.start]!, end: index[range.end]! }));
}

/** The parts of a hit that highlighting reads. */
export interface Highlightable {
  text: string;
  snippet?: HitSnippet | null;
  highlights?: readonly TextRange[] | null;
}

/** Whether anything but whitespace is in text[from, to) (UTF-16). */
function hasText(text: string, from: number, to: number): boolean {
  return from < to && text.slice(from, to).trim() !== '';
}

/** The server's snippet and highlights of a hit, or null when it sent neither (an older searchapi). */
export function serverHighlight(hit: Highlightable, length = SNIPPET_LENGTH): Highlighted | null {
  const { text, snippet } = hit;
  if (snippet && typeof snippet === 'object' && typeof snippet.text === 'string') {
    // The ellipses say that the text goes on before / after the passage (whitespace does not count).
    const index = codePointIndex(text);
    const last = index.length - 1;
    const start = index[Math.min(last, Math.max(0, Math.trunc(Number(snippet.start) || 0)))]!;
    const endAt = Number.isFinite(snippet.end) ? Math.trunc(snippet.end) : last;
    const end = index[Math.min(last, Math.max(0, endAt))]!;
    return {
      segments: segmentsOf(snippet.text, toUtf16Ranges(snippet.text, snippet.highlights)),
      leading: hasText(text, 0, start),
      trailing: hasText(text, end, text.length),
    };
  }
  if (Array.isArray(hit.highlights)) {
    // Highlights without a snippet: the console cuts the passage, around the first of them.
    const ranges = toUtf16Ranges(text, hit.highlights);
    const window = snippetWindow(text, ranges[0], length);
    return {
      segments: segmentsOf(text, ranges, window.start, window.end),
      leading: hasText(text, 0, window.start),
      trailing: hasText(text, window.end, text.length),
    };
  }
  return null;
}

/** The hit's passage, marked: the server's highlights when it sent them, else the console's own. */
export function highlightHit(hit: Highlightable, query: string, length = SNIPPET_LENGTH): Highlighted & { source: 'server' | 'console' } {
  const server = serverHighlight(hit, length);
  return server ? { ...server, source: 'server' } : { ...highlight(hit.text, query, length), source: 'console' };
}
