/** A status word in a coloured badge; the text is exactly the status ("indexed"). */
export function StatusBadge({ status }: { status: string }) {
  const known = /^[a-z]+$/.test(status) ? status : 'unknown';
  return (
    <span className={`badge badge-${known}`} data-testid="status">
      {status}
    </span>
  );
}
