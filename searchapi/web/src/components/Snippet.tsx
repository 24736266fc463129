import { Fragment } from 'react';
import { highlight, SNIPPET_LENGTH } from '../highlight';

/** A snippet of the text around the query's terms, each one in a <mark>. */
export function Snippet({ text, query, length = SNIPPET_LENGTH }: { text: string; query: string; length?: number }) {
  const { segments, leading, trailing } = highlight(text, query, length);
  return (
    <p className="snippet">
      {leading ? '… ' : null}
      {segments.map((segment, index) =>
        segment.match ? <mark key={index}>{segment.text}</mark> : <Fragment key={index}>{segment.text}</Fragment>,
      )}
      {trailing ? ' …' : null}
    </p>
  );
}
