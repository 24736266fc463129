import { formatDateTime, relativeTime } from '../format';

/** A timestamp: the locale's date and time, and how long ago. */
export function Time({ iso, relative = true }: { iso: string | null | undefined; relative?: boolean }) {
  if (!iso) return <span className="muted">—</span>;
  const ago = relative ? relativeTime(iso) : '';
  return (
    <time dateTime={iso}>
      {formatDateTime(iso)}
      {ago ? <span className="muted ago"> ({ago})</span> : null}
    </time>
  );
}
