/**
 * Go 1.19 `time.Time` JSON behaviour, as far as schema1 conversion needs it.
 *
 * Reading (`Time.UnmarshalJSON` in Go 1.19): the raw JSON token, quotes included and escapes NOT
 * decoded, is parsed with `time.Parse("\"2006-01-02T15:04:05Z07:00\"", raw)`, which means:
 * 4-digit year; 2-digit month, day, minute and second; a 1- or 2-digit hour; an optional fraction
 * after the seconds introduced by `.` or `,` with any number of digits, of which only the first 9
 * count; then `Z` or `±hh:mm` (no range check on the offset in 1.19); nothing after the closing
 * quote. Out-of-range fields (month 13, hour 24, second 60, 31 February) are errors. JSON `null`
 * leaves the value unchanged (handled by the caller).
 *
 * Writing (`Time.MarshalJSON`): RFC 3339 with nanoseconds, trailing zeros of the fraction removed
 * (and the dot when the fraction is zero), the wall clock and offset exactly as parsed, `Z` for a
 * zero offset (so `+00:00` and `-00:00` come back as `Z`).
 */

export interface GoTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  nanosecond: number;
  /** Offset east of UTC in seconds; 0 is written as `Z`. */
  offsetSeconds: number;
}

/** Go's zero `time.Time`, which marshals as `0001-01-01T00:00:00Z`. */
export const GO_ZERO_TIME: Readonly<GoTime> = Object.freeze({
  year: 1,
  month: 1,
  day: 1,
  hour: 0,
  minute: 0,
  second: 0,
  nanosecond: 0,
  offsetSeconds: 0,
});

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

function daysIn(month: number, year: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/**
 * Go's `getnum`: one or two digits; with `fixed`, exactly two. Returns [value, rest] or null.
 */
function getnum(s: string, fixed: boolean): [number, string] | null {
  if (!isDigit(s, 0)) return null;
  if (!isDigit(s, 1)) {
    if (fixed) return null;
    return [s.charCodeAt(0) - 0x30, s.slice(1)];
  }
  return [(s.charCodeAt(0) - 0x30) * 10 + (s.charCodeAt(1) - 0x30), s.slice(2)];
}

/**
 * Go 1.19 `Time.UnmarshalJSON` for a non-null token. `raw` is the token's bytes as a latin1 string
 * (so any non-ASCII byte simply fails to match). Returns null where Go returns an error.
 */
export function parseGoTimeJson(raw: string): GoTime | null {
  let v = raw;
  const lit = (text: string): boolean => {
    if (!v.startsWith(text)) return false;
    v = v.slice(text.length);
    return true;
  };
  if (!lit('"')) return null;
  // year: exactly four digits (Go: first must be a digit, then atoi of four bytes)
  if (v.length < 4 || !/^[0-9]{4}/.test(v)) return null;
  const year = Number(v.slice(0, 4));
  v = v.slice(4);
  if (!lit('-')) return null;
  let r = getnum(v, true);
  if (!r) return null;
  const month = r[0];
  v = r[1];
  if (month <= 0 || month > 12) return null;
  if (!lit('-')) return null;
  r = getnum(v, true);
  if (!r) return null;
  const day = r[0];
  v = r[1];
  if (!lit('T')) return null;
  r = getnum(v, false);
  if (!r) return null;
  const hour = r[0];
  v = r[1];
  if (hour >= 24) return null;
  if (!lit(':')) return null;
  r = getnum(v, true);
  if (!r) return null;
  const minute = r[0];
  v = r[1];
  if (minute >= 60) return null;
  if (!lit(':')) return null;
  r = getnum(v, true);
  if (!r) return null;
  const second = r[0];
  v = r[1];
  if (second >= 60) return null;
  let nanosecond = 0;
  if (v.length >= 2 && (v[0] === '.' || v[0] === ',') && isDigit(v, 1)) {
    let n = 2;
    while (n < v.length && isDigit(v, n)) n++;
    const digits = v.slice(1, Math.min(n, 10));
    nanosecond = Number(digits) * 10 ** (9 - digits.length);
    v = v.slice(n);
  }
  let offsetSeconds: number;
  if (v.length >= 1 && v[0] === 'Z') {
    v = v.slice(1);
    offsetSeconds = 0;
  } else {
    if (v.length < 6 || v[3] !== ':') return null;
    const sign = v[0];
    const hh = getnum(v.slice(1, 3), true);
    const mm = getnum(v.slice(4, 6), true);
    if (!hh || !mm) return null;
    if (sign !== '+' && sign !== '-') return null;
    offsetSeconds = (hh[0] * 60 + mm[0]) * 60 * (sign === '-' ? -1 : 1);
    v = v.slice(6);
  }
  if (!lit('"')) return null;
  if (v.length > 0) return null;
  if (day < 1 || day > daysIn(month, year)) return null;
  return { year, month, day, hour, minute, second, nanosecond, offsetSeconds };
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Go `Time.MarshalJSON` (RFC3339Nano), including the quotes. */
export function formatGoTimeJson(t: GoTime): string {
  let out =
    `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}` +
    `T${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}`;
  if (t.nanosecond !== 0) out += '.' + pad(t.nanosecond, 9).replace(/0+$/, '');
  if (t.offsetSeconds === 0) {
    out += 'Z';
  } else {
    let zone = Math.trunc(t.offsetSeconds / 60);
    if (zone < 0) {
      out += '-';
      zone = -zone;
    } else {
      out += '+';
    }
    out += pad(Math.trunc(zone / 60), 2) + ':' + pad(zone % 60, 2);
  }
  return `"${out}"`;
}

/** `t.UTC().Format(time.RFC3339)`: seconds precision, always `Z`. */
export function formatGoRfc3339Utc(date: Date): string {
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}` +
    `T${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}Z`
  );
}
