import { metadataValue } from '../format';
import type { Metadata } from '../types';

/** Metadata as "key: value" chips. */
export function MetadataChips({ metadata, label = 'Metadata' }: { metadata: Metadata | null | undefined; label?: string }) {
  const entries = Object.entries(metadata ?? {});
  if (entries.length === 0) return null;
  return (
    <ul className="chips" aria-label={label}>
      {entries.map(([key, value]) => (
        <li key={key} className="chip">
          <span className="chip-key">{key}:</span> {metadataValue(value)}
        </li>
      ))}
    </ul>
  );
}
