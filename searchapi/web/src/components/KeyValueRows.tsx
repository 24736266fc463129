import { useId } from 'react';
import { newRow, type Row } from '../metadata';

/** Editable key/value rows (metadata filters, a document's metadata), each control labelled. */
export function KeyValueRows({
  legend,
  rows,
  onChange,
  addLabel,
  hint,
  noun = 'metadata',
}: {
  legend: string;
  rows: Row[];
  onChange: (rows: Row[]) => void;
  addLabel: string;
  hint?: string;
  noun?: string;
}) {
  const hintId = useId();
  const base = useId();

  function update(id: number, change: Partial<Row>) {
    onChange(rows.map((row) => (row.id === id ? { ...row, ...change } : row)));
  }

  return (
    <fieldset className="kv" aria-describedby={hint ? hintId : undefined}>
      <legend>{legend}</legend>
      {hint ? (
        <p id={hintId} className="hint">
          {hint}
        </p>
      ) : null}
      {rows.length > 0 ? (
        <ul className="kv-rows">
          {rows.map((row, index) => {
            const n = index + 1;
            return (
              <li key={row.id} className="kv-row">
                <label className="sr-only" htmlFor={`${base}-k${row.id}`}>
                  {`${capitalize(noun)} key ${n}`}
                </label>
                <input
                  id={`${base}-k${row.id}`}
                  placeholder="key"
                  value={row.key}
                  onChange={(event) => update(row.id, { key: event.target.value })}
                />
                <label className="sr-only" htmlFor={`${base}-v${row.id}`}>
                  {`${capitalize(noun)} value ${n}`}
                </label>
                <input
                  id={`${base}-v${row.id}`}
                  placeholder="value"
                  value={row.value}
                  onChange={(event) => update(row.id, { value: event.target.value })}
                />
                <button
                  type="button"
                  className="secondary"
                  aria-label={`Remove ${noun} row ${n}`}
                  onClick={() => onChange(rows.filter((other) => other.id !== row.id))}
                >
                  Remove
                </button>
              </li>
            );
          })}
        </ul>
      ) : null}
      <button type="button" className="secondary" onClick={() => onChange([...rows, newRow()])}>
        {addLabel}
      </button>
    </fieldset>
  );
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
