/**
 * Writers that produce the same bytes as Go 1.19's encoding/json (the Go that builds Distribution
 * 2.8.2), which is what schema1 digests and signatures depend on.
 *
 * - Strings (`encodeState.string` with HTML escaping, the default of `json.Marshal`): `"` and `\`
 *   get a backslash; `\n`, `\r`, `\t` their short escapes; every other byte below 0x20 and `<`,
 *   `>`, `&` become `\u00XX` with lower-case hex (so `\b` is `\u0008`: the short `\b`/`\f` forms
 *   only arrived in Go 1.22); U+2028 and U+2029 become `\u2028`/`\u2029`; each byte that does not
 *   start a valid UTF-8 sequence becomes `\ufffd`; DEL and all other characters are written as is.
 * - `json.RawMessage` inside `json.Marshal` goes through `compact(dst, raw, escapeHTML=true)`:
 *   whitespace outside strings is dropped, number spellings and existing escapes are kept, but
 *   `<`, `>`, `&` bytes and the byte sequences of U+2028/U+2029 are still escaped. Invalid UTF-8
 *   inside a raw value is copied unchanged.
 * - `json.MarshalIndent(v, prefix, indent)` is Marshal followed by `Indent`: `": "` after keys, one
 *   element per line, `[]` and `{}` for empty containers, no trailing newline.
 */
import { decodeUtf8Rune, type GoAny } from './go-json-parse';

const HEX = '0123456789abcdef';

/** A growable byte buffer, so the writers below do not allocate per token. */
class ByteWriter {
  private buf: Buffer;
  length = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(capacity, 64));
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + extra));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  bytes(src: Uint8Array, from: number, to: number): void {
    if (to <= from) return;
    this.ensure(to - from);
    this.buf.set(src.subarray(from, to), this.length);
    this.length += to - from;
  }

  /** ASCII or UTF-8 text. */
  text(s: string): void {
    this.ensure(s.length * 3);
    this.length += this.buf.write(s, this.length, 'utf8');
  }

  /** `\u00XX` for a byte. */
  escapeByte(b: number): void {
    this.text('\\u00' + HEX[b >> 4] + HEX[b & 0xf]);
  }

  result(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function isHtmlSafe(b: number, escapeHTML: boolean): boolean {
  if (b < 0x20 || b === 0x22 || b === 0x5c) return false;
  if (escapeHTML && (b === 0x3c || b === 0x3e || b === 0x26)) return false;
  return true;
}

function writeQuoted(w: ByteWriter, src: Uint8Array, escapeHTML: boolean): void {
  w.byte(0x22);
  let start = 0;
  for (let i = 0; i < src.length;) {
    const b = src[i];
    if (b < 0x80) {
      if (isHtmlSafe(b, escapeHTML)) {
        i++;
        continue;
      }
      w.bytes(src, start, i);
      switch (b) {
        case 0x5c:
        case 0x22:
          w.byte(0x5c);
          w.byte(b);
          break;
        case 0x0a:
          w.text('\\n');
          break;
        case 0x0d:
          w.text('\\r');
          break;
        case 0x09:
          w.text('\\t');
          break;
        default:
          w.escapeByte(b);
      }
      i++;
      start = i;
      continue;
    }
    const [cp, size] = decodeUtf8Rune(src, i);
    if (cp === 0xfffd && size === 1) {
      w.bytes(src, start, i);
      w.text('\\ufffd');
      i++;
      start = i;
      continue;
    }
    if (cp === 0x2028 || cp === 0x2029) {
      w.bytes(src, start, i);
      w.text('\\u202' + HEX[cp & 0xf]);
      i += size;
      start = i;
      continue;
    }
    i += size;
  }
  w.bytes(src, start, src.length);
  w.byte(0x22);
}

/** Go `encodeState.string` over raw bytes (a Go string may hold invalid UTF-8). */
export function goJsonQuoteBytes(src: Uint8Array, escapeHTML = true): Buffer {
  const w = new ByteWriter(src.length + 16);
  writeQuoted(w, src, escapeHTML);
  return w.result();
}

/**
 * Go's JSON string literal for a JS string. A lone UTF-16 surrogate (which a Go string cannot
 * hold) is written as U+FFFD.
 */
export function goJsonQuote(s: string, escapeHTML = true): string {
  // Fast path: printable ASCII without characters that need escaping.
  if (/^[\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\x5b\x5d-\x7f]*$/.test(s)) return '"' + s + '"';
  return goJsonQuoteBytes(Buffer.from(s, 'utf8'), escapeHTML).toString('utf8');
}

function isJsonSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/**
 * Go's `compact(dst, src, escape)` for an already valid JSON value: whitespace outside strings is
 * removed; with `escape`, `<` `>` `&` and the bytes of U+2028/U+2029 are escaped wherever they are.
 */
export function goJsonCompact(src: Uint8Array, escape = true): Buffer {
  const w = new ByteWriter(src.length + 16);
  let start = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (escape && (c === 0x3c || c === 0x3e || c === 0x26)) {
      w.bytes(src, start, i);
      w.escapeByte(c);
      start = i + 1;
    }
    if (escape && c === 0xe2 && i + 2 < src.length && src[i + 1] === 0x80 && (src[i + 2] & ~1) === 0xa8) {
      w.bytes(src, start, i);
      w.text('\\u202' + HEX[src[i + 2] & 0xf]);
      start = i + 3;
    }
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    if (isJsonSpace(c)) {
      w.bytes(src, start, i);
      start = i + 1;
    }
  }
  w.bytes(src, start, src.length);
  return w.result();
}

/**
 * Go's `json.Indent(dst, src, prefix, indent)` for a valid JSON value: the first line carries no
 * prefix, each nested element starts a new line of prefix + indent × depth, empty containers stay
 * `{}` / `[]`, and `:` is followed by one space.
 */
export function goJsonIndent(src: Uint8Array, prefix: string, indent: string): Buffer {
  const w = new ByteWriter(src.length * 2);
  const newline = (depth: number) => {
    w.byte(0x0a);
    w.text(prefix);
    for (let k = 0; k < depth; k++) w.text(indent);
  };
  let needIndent = false;
  let depth = 0;
  for (let i = 0; i < src.length;) {
    const c = src[i];
    if (isJsonSpace(c)) {
      i++;
      continue;
    }
    if (needIndent && c !== 0x7d && c !== 0x5d) {
      needIndent = false;
      depth++;
      newline(depth);
    }
    switch (c) {
      case 0x22: {
        let j = i + 1;
        while (src[j] !== 0x22) j += src[j] === 0x5c ? 2 : 1;
        w.bytes(src, i, j + 1);
        i = j + 1;
        continue;
      }
      case 0x7b:
      case 0x5b:
        needIndent = true;
        w.byte(c);
        break;
      case 0x2c:
        w.byte(c);
        newline(depth);
        break;
      case 0x3a:
        w.byte(c);
        w.byte(0x20);
        break;
      case 0x7d:
      case 0x5d:
        if (needIndent) {
          needIndent = false;
        } else {
          depth--;
          newline(depth);
        }
        w.byte(c);
        break;
      default:
        // part of a number or literal
        w.byte(c);
    }
    i++;
  }
  return w.result();
}

/** Go's `json.MarshalIndent` given the bytes `json.Marshal` would produce. */
export function goJsonMarshalIndent(compactJson: Uint8Array, prefix: string, indent: string): Buffer {
  return goJsonIndent(compactJson, prefix, indent);
}

/**
 * Go's float64 encoding in encoding/json: shortest round-trip digits, exponent form below 1e-6 and
 * from 1e21 on, `e-07` shortened to `e-7`. JavaScript's Number→string uses the same thresholds and
 * digits; only negative zero differs (Go writes `-0`).
 */
export function goJsonFloat(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`json: unsupported value: ${n}`);
  if (Object.is(n, -0)) return '-0';
  return String(n);
}

/** Byte-wise (UTF-8) comparison, the order Go uses for sorted map keys. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Go `json.Marshal` of a value decoded into `interface{}` (maps get sorted keys). */
export function goJsonMarshalAny(v: GoAny): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return goJsonFloat(v);
  if (typeof v === 'string') return goJsonQuote(v);
  if (Array.isArray(v)) return '[' + v.map(goJsonMarshalAny).join(',') + ']';
  const keys = Object.keys(v).sort(compareUtf8);
  return '{' + keys.map((k) => goJsonQuote(k) + ':' + goJsonMarshalAny(v[k])).join(',') + '}';
}
