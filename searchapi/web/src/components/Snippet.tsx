import { Fragment } from 'react';
import { highlightHit, SNIPPET_LENGTH, type Highlightable } from '../highlight';

/**
 * A hit's passage with the matched words in <mark>s: searchapi's snippet and highlights when it
 * sent them, else a snippet around the query's terms found by the console. Text only, never HTML.
 */
export function Snippet({ hit, query, length = SNIPPET_LENGTH }: { hit: Highlightable; query: string; length?: number }) {
  const { segments, leading, trailing, source } = highlightHit(hit, query, length);
  return (
    <p className="snippet" data-highlights={source}>
      {leading ? '… ' : null}
      {segments.map((segment, index) =>
        segment.match ? <mark key={index}>{segment.text}</mark> : <Fragment key={index}>{segment.text}</Fragment>,
      )}
      {trailing ? ' …' : null}
    </p>
  );
}
