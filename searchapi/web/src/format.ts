// Numbers, times and durations as the pages show them.

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  return ms < 10 ? ms.toFixed(1) : String(Math.round(ms));
}

export function formatScore(score: number): string {
  return Number.isFinite(score) ? score.toFixed(3) : String(score);
}

/** "3", "3–4", or "" for a chunk without pages. */
export function formatPages(page: number | null | undefined, pageEnd: number | null | undefined): string {
  if (!page) return '';
  return pageEnd && pageEnd !== page ? `${page}–${pageEnd}` : String(page);
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

const UNITS: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/** "3 minutes ago", "in 5 seconds", "now". */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const time = new Date(iso).getTime();
  if (Number.isNaN(time)) return '';
  const seconds = Math.round((time - now) / 1000);
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === 'second') {
      return format.format(Math.round(seconds / size), unit);
    }
  }
  return '';
}

/** A duration in seconds, briefly: "0.4 s", "12 s", "3 min 20 s", "2 h 5 min". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 10) return `${(Math.round(seconds * 10) / 10).toString()} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) {
    const rest = whole % 60;
    return `${Math.floor(whole / 60)} min${rest ? ` ${rest} s` : ''}`;
  }
  const minutes = Math.floor((whole % 3600) / 60);
  return `${Math.floor(whole / 3600)} h${minutes ? ` ${minutes} min` : ''}`;
}

/** "5 minutes", "30 seconds", "1 hour" for a window of seconds. */
export function formatWindow(seconds: number): string {
  if (seconds % 3600 === 0 && seconds >= 3600) return plural(seconds / 3600, 'hour');
  if (seconds % 60 === 0 && seconds >= 60) return plural(seconds / 60, 'minute');
  return plural(seconds, 'second');
}

const COUNT = new Intl.NumberFormat('en');

/** A count with thousands separators: "1,234". */
export function formatCount(count: number): string {
  return COUNT.format(count);
}

/** A rate per second: "31", "2.5", "0.1". */
export function formatRate(perSecond: number): string {
  return perSecond >= 10 || perSecond === 0 ? String(Math.round(perSecond)) : String(Math.round(perSecond * 10) / 10);
}

/** Roughly how long is left: "less than a minute left", "about 2 min left", "about 1 h 5 min left". */
export function timeLeft(seconds: number): string {
  if (seconds < 60) return 'less than a minute left';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min left`;
  const rest = minutes % 60;
  return `about ${Math.floor(minutes / 60)} h${rest ? ` ${rest} min` : ''} left`;
}

/** done of total as a whole percentage, 100 only when all is done. */
export function percent(done: number, total: number): number {
  if (total <= 0) return 0;
  const value = Math.round((done / total) * 100);
  return done < total ? Math.min(value, 99) : value;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** A version hash shortened for a table cell. */
export function shortVersion(version: string | null | undefined, length = 12): string {
  if (!version) return '—';
  return version.length > length ? `${version.slice(0, length)}…` : version;
}

/** A metadata value as text: strings as they are, everything else as JSON. */
export function metadataValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(metadataValue).join(', ');
  return JSON.stringify(value) ?? String(value);
}

/** Text as one sentence: its own final period (or none) replaced by one. */
export function sentence(text: string): string {
  return `${text.trim().replace(/[.\s]+$/, '')}.`;
}
