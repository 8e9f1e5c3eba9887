export interface ByteRange {
  /** Inclusive. */
  start: number;
  /** Inclusive. */
  end: number;
}

// One range only: a multipart/byteranges answer is not worth it for blobs, and ignoring the header
// (serving the whole blob) is always allowed by RFC 9110. The unit is case-insensitive there.
const RANGE_REGEX = /^bytes=[ \t]*([0-9]*)-([0-9]*)[ \t]*$/i;

/** The first and last positions of a single byte range as written, either possibly empty. */
function rangeSpec(header: string): [first: string, last: string] | undefined {
  const match = RANGE_REGEX.exec(header.trim());
  return match ? [match[1], match[2]] : undefined;
}

/**
 * The `Range` of a blob GET against a blob of `size` bytes. Undefined means "ignore the header and
 * serve everything"; 'unsatisfiable' means 416 with `Content-Range: bytes *\/size`.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const spec = rangeSpec(header);
  if (!spec) return undefined;
  const [first, last] = spec;
  if (first === '' && last === '') return undefined;

  if (first === '') {
    const suffix = boundedInteger(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = boundedInteger(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : boundedInteger(last);
  if (start > end || start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/**
 * A `Range` whose both ends are given, as one service asks another for a range it has already
 * resolved with parseRange (`bytes=<start>-<end>`). Null for anything else, which no service sends.
 */
export function parseResolvedRange(header: string): ByteRange | null {
  const spec = rangeSpec(header);
  if (!spec || spec[0] === '' || spec[1] === '') return null;
  const [start, end] = spec.map(Number);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end) return null;
  return { start, end };
}

// Clamping out-of-range values keeps every comparison above right: a start that large is past any
// blob, an end that large means "to the end", a suffix that large means "everything".
function boundedInteger(digits: string): number {
  return Math.min(Number(digits), Number.MAX_SAFE_INTEGER);
}

// OCI specifies a bare `a-b`; the `bytes ` prefix and `/total` suffix are what some clients send
// anyway, copying the response header form.
const CONTENT_RANGE_REGEX = /^(?:bytes )?([0-9]+)-([0-9]+)(?:\/(?:[0-9]+|\*))?$/;

/**
 * The `Content-Range` of an upload PATCH. Null when it is malformed or backwards; the caller answers
 * 416 RANGE_INVALID for both.
 */
export function parseContentRange(header: string | undefined): ByteRange | null {
  if (header === undefined) return null;
  const match = CONTENT_RANGE_REGEX.exec(header.trim());
  if (!match) return null;
  const start = Number(match[1]);
  const end = Number(match[2]);
  // An offset that cannot be represented exactly could be mistaken for the current upload size.
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end) return null;
  return { start, end };
}
