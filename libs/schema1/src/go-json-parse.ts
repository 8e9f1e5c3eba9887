/**
 * A byte-level JSON reader that accepts and decodes exactly what Go 1.19's encoding/json does
 * (Distribution 2.8.2 is built with Go 1.19.9). It keeps byte offsets so raw values can be copied
 * verbatim, the way `json.RawMessage` does.
 *
 * Go rules reproduced here:
 * - whitespace outside strings is only space, tab, CR and LF; nesting deeper than 10000 is an error;
 * - inside strings, bytes below 0x20 are errors, the escapes are `\" \\ \/ \b \f \n \r \t \uXXXX`;
 *   bytes of 0x80 and above are accepted without any UTF-8 check;
 * - when a string is decoded, every byte that does not start a valid UTF-8 sequence becomes one
 *   U+FFFD, and a `\u` surrogate that does not form a pair with the following `\u` escape becomes
 *   U+FFFD (the following escape is then decoded on its own).
 */

export type GoJsonNode = GoJsonObject | GoJsonArray | GoJsonString | GoJsonScalar;

export interface GoJsonObject {
  type: 'object';
  start: number;
  end: number;
  members: { key: string; value: GoJsonNode }[];
}

export interface GoJsonArray {
  type: 'array';
  start: number;
  end: number;
  items: GoJsonNode[];
}

export interface GoJsonString {
  type: 'string';
  start: number;
  end: number;
  /** The decoded value, coerced to well-formed Unicode as Go does. */
  value: string;
}

export interface GoJsonScalar {
  type: 'number' | 'true' | 'false' | 'null';
  start: number;
  end: number;
}

/** Go's `maxNestingDepth` in encoding/json's scanner. */
const MAX_NESTING_DEPTH = 10000;

export class GoJsonSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoJsonSyntaxError';
  }
}

/**
 * Go's utf8.DecodeRune: returns the code point and the byte length, or `[0xfffd, 1]` for a byte
 * that does not start a valid, complete, shortest-form sequence (surrogates and values above
 * U+10FFFF are invalid).
 */
export function decodeUtf8Rune(buf: Uint8Array, i: number, end: number = buf.length): [number, number] {
  const b0 = buf[i];
  if (b0 < 0x80) return [b0, 1];
  const bad: [number, number] = [0xfffd, 1];
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  let cp: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    need = 1;
    cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2;
    cp = b0 & 0x0f;
    if (b0 === 0xe0) lo = 0xa0;
    else if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 === 0xf0) lo = 0x90;
    else if (b0 === 0xf4) hi = 0x8f;
  } else {
    return bad;
  }
  for (let k = 1; k <= need; k++) {
    if (i + k >= end) return bad;
    const b = buf[i + k];
    const l = k === 1 ? lo : 0x80;
    const h = k === 1 ? hi : 0xbf;
    if (b < l || b > h) return bad;
    cp = (cp << 6) | (b & 0x3f);
  }
  return [cp, need + 1];
}

/** Go's utf8.DecodeLastRune over `buf[0:end]`. */
export function decodeLastUtf8Rune(buf: Uint8Array, end: number): [number, number] {
  const last = buf[end - 1];
  if (last < 0x80) return [last, 1];
  const lim = Math.max(end - 4, 0);
  let start = end - 2;
  for (; start >= lim; start--) {
    if ((buf[start] & 0xc0) !== 0x80) break;
  }
  if (start < 0) start = 0;
  const [r, size] = decodeUtf8Rune(buf, start, end);
  if (start + size !== end) return [0xfffd, 1];
  return [r, size];
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

function hexValue(buf: Uint8Array, i: number): number {
  return parseInt(String.fromCharCode(buf[i], buf[i + 1], buf[i + 2], buf[i + 3]), 16);
}

function isWs(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

class Reader {
  i = 0;
  readonly buf: Buffer;
  constructor(buf: Uint8Array) {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  }

  fail(what: string): never {
    if (this.i >= this.buf.length) throw new GoJsonSyntaxError('unexpected end of JSON input');
    throw new GoJsonSyntaxError(`invalid character at offset ${this.i} ${what}`);
  }

  ws(): void {
    const { buf } = this;
    while (this.i < buf.length && isWs(buf[this.i])) this.i++;
  }

  /** Reads a string starting at the opening quote; returns the node (Go-decoded value). */
  string(): GoJsonString {
    const { buf } = this;
    const start = this.i;
    this.i++;
    // Fast path: plain ASCII up to the closing quote.
    let j = this.i;
    while (j < buf.length) {
      const b = buf[j];
      if (b === 0x22 || b === 0x5c || b < 0x20 || b >= 0x80) break;
      j++;
    }
    if (buf[j] === 0x22) {
      this.i = j + 1;
      return { type: 'string', start, end: this.i, value: buf.toString('latin1', start + 1, j) };
    }
    let out = '';
    let runStart = this.i;
    for (;;) {
      if (this.i >= buf.length) this.fail('in string literal');
      const c = buf[this.i];
      if (c === 0x22) {
        out += latin1Ascii(buf, runStart, this.i);
        this.i++;
        return { type: 'string', start, end: this.i, value: out };
      }
      if (c < 0x20) this.fail('in string literal');
      if (c === 0x5c) {
        out += latin1Ascii(buf, runStart, this.i);
        const e = buf[this.i + 1];
        switch (e) {
          case 0x22:
            out += '"';
            break;
          case 0x5c:
            out += '\\';
            break;
          case 0x2f:
            out += '/';
            break;
          case 0x62:
            out += '\b';
            break;
          case 0x66:
            out += '\f';
            break;
          case 0x6e:
            out += '\n';
            break;
          case 0x72:
            out += '\r';
            break;
          case 0x74:
            out += '\t';
            break;
          case 0x75: {
            for (let k = 2; k < 6; k++) {
              if (this.i + k >= buf.length) {
                this.i = buf.length;
                this.fail('in \\u hexadecimal character escape');
              }
              if (!isHex(buf[this.i + k])) {
                this.i += k;
                this.fail('in \\u hexadecimal character escape');
              }
            }
            let cp = hexValue(buf, this.i + 2);
            if (cp >= 0xd800 && cp < 0xe000) {
              // Go: a pair is consumed only when a valid low surrogate escape follows directly.
              const j = this.i + 6;
              if (
                cp < 0xdc00 &&
                buf[j] === 0x5c &&
                buf[j + 1] === 0x75 &&
                j + 5 < buf.length &&
                isHex(buf[j + 2]) &&
                isHex(buf[j + 3]) &&
                isHex(buf[j + 4]) &&
                isHex(buf[j + 5])
              ) {
                const lo = hexValue(buf, j + 2);
                if (lo >= 0xdc00 && lo < 0xe000) {
                  out += String.fromCharCode(cp, lo);
                  this.i += 12;
                  runStart = this.i;
                  continue;
                }
              }
              cp = 0xfffd;
            }
            out += String.fromCharCode(cp);
            this.i += 6;
            runStart = this.i;
            continue;
          }
          default:
            this.i++;
            this.fail('in string escape code');
        }
        this.i += 2;
        runStart = this.i;
        continue;
      }
      if (c >= 0x80) {
        out += latin1Ascii(buf, runStart, this.i);
        const [cp, size] = decodeUtf8Rune(buf, this.i);
        out += String.fromCodePoint(cp);
        this.i += size;
        runStart = this.i;
        continue;
      }
      this.i++;
    }
  }

  number(): GoJsonScalar {
    const { buf } = this;
    const start = this.i;
    const digit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;
    if (buf[this.i] === 0x2d) this.i++;
    if (buf[this.i] === 0x30) {
      this.i++;
    } else if (digit(buf[this.i])) {
      while (digit(buf[this.i])) this.i++;
    } else {
      this.fail('in numeric literal');
    }
    if (buf[this.i] === 0x2e) {
      this.i++;
      if (!digit(buf[this.i])) this.fail('after decimal point in numeric literal');
      while (digit(buf[this.i])) this.i++;
    }
    if (buf[this.i] === 0x65 || buf[this.i] === 0x45) {
      this.i++;
      if (buf[this.i] === 0x2b || buf[this.i] === 0x2d) this.i++;
      if (!digit(buf[this.i])) this.fail('in exponent of numeric literal');
      while (digit(buf[this.i])) this.i++;
    }
    return { type: 'number', start, end: this.i };
  }

  literal(word: 'true' | 'false' | 'null'): GoJsonScalar {
    const start = this.i;
    for (let k = 0; k < word.length; k++) {
      if (this.buf[this.i] !== word.charCodeAt(k)) this.fail(`in literal ${word}`);
      this.i++;
    }
    return { type: word, start, end: this.i };
  }

  key(): string {
    this.ws();
    if (this.buf[this.i] !== 0x22) this.fail('looking for beginning of object key string');
    const key = this.string().value;
    this.ws();
    if (this.buf[this.i] !== 0x3a) this.fail('after object key');
    this.i++;
    this.ws();
    return key;
  }
}

function latin1Ascii(buf: Buffer, from: number, to: number): string {
  return from >= to ? '' : buf.toString('latin1', from, to);
}

interface Frame {
  node: GoJsonObject | GoJsonArray;
  key: string;
}

/**
 * Parses one JSON document the way Go's `json.Unmarshal` checks it (`checkValid`), returning a tree
 * with byte offsets. Throws GoJsonSyntaxError on anything Go would reject.
 */
export function parseGoJson(buf: Uint8Array): GoJsonNode {
  const r: Reader = new Reader(buf);
  const stack: Frame[] = [];
  r.ws();
  for (;;) {
    let value: GoJsonNode;
    const c = buf[r.i];
    if (c === 0x7b || c === 0x5b) {
      if (stack.length + 1 > MAX_NESTING_DEPTH) throw new GoJsonSyntaxError('exceeded max depth');
      const node: GoJsonObject | GoJsonArray =
        c === 0x7b
          ? { type: 'object', start: r.i, end: -1, members: [] }
          : { type: 'array', start: r.i, end: -1, items: [] };
      r.i++;
      r.ws();
      const close = c === 0x7b ? 0x7d : 0x5d;
      if (buf[r.i] === close) {
        r.i++;
        node.end = r.i;
        value = node;
      } else {
        stack.push({ node, key: c === 0x7b ? r.key() : '' });
        continue;
      }
    } else if (c === 0x22) {
      value = r.string();
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      value = r.number();
    } else if (c === 0x74) {
      value = r.literal('true');
    } else if (c === 0x66) {
      value = r.literal('false');
    } else if (c === 0x6e) {
      value = r.literal('null');
    } else {
      r.fail('looking for beginning of value');
    }
    // Attach the finished value and close every container that ends here.
    for (;;) {
      const frame = stack[stack.length - 1];
      if (!frame) {
        r.ws();
        if (r.i !== buf.length) r.fail('after top-level value');
        return value;
      }
      if (frame.node.type === 'object') frame.node.members.push({ key: frame.key, value });
      else frame.node.items.push(value);
      r.ws();
      const d = buf[r.i];
      if (d === 0x2c) {
        r.i++;
        r.ws();
        if (frame.node.type === 'object') frame.key = r.key();
        break;
      }
      if (d === (frame.node.type === 'object' ? 0x7d : 0x5d)) {
        r.i++;
        frame.node.end = r.i;
        stack.pop();
        value = frame.node;
        continue;
      }
      r.fail(frame.node.type === 'object' ? 'after object key:value pair' : 'after array element');
    }
  }
}

/** A JSON value decoded into plain JS values the way Go decodes into `interface{}`. */
export type GoAny = null | boolean | number | string | GoAny[] | { [key: string]: GoAny };

/**
 * Go's decoding into `interface{}`: objects become maps (duplicate keys: last wins), numbers
 * float64. Object keys keep insertion order here; Go's encoder sorts them anyway.
 */
export function goJsonToAny(buf: Uint8Array, node: GoJsonNode): GoAny {
  switch (node.type) {
    case 'null':
      return null;
    case 'true':
      return true;
    case 'false':
      return false;
    case 'string':
      return node.value;
    case 'number':
      return goFloat64(buf, node);
    case 'array':
      return node.items.map((item) => goJsonToAny(buf, item));
    case 'object': {
      const out: { [key: string]: GoAny } = Object.create(null);
      for (const m of node.members) out[m.key] = goJsonToAny(buf, m.value);
      return out;
    }
  }
}

/** Go's strconv.ParseFloat(s, 64) for a JSON number token; out of range is an error in Go. */
export function goFloat64(buf: Uint8Array, node: GoJsonScalar): number {
  const n = Number(Buffer.from(buf.subarray(node.start, node.end)).toString('latin1'));
  if (!Number.isFinite(n)) throw new GoJsonSyntaxError('number out of range');
  return n;
}

/**
 * True when Go could decode the whole value into `interface{}`: the only failure once the syntax
 * is valid is a number outside the float64 range. Iterative, so depth cannot exhaust the stack.
 */
export function goAnyDecodable(buf: Uint8Array, node: GoJsonNode): boolean {
  const todo: GoJsonNode[] = [node];
  for (let n = todo.pop(); n; n = todo.pop()) {
    if (n.type === 'number') {
      const v = Number(Buffer.from(buf.subarray(n.start, n.end)).toString('latin1'));
      if (!Number.isFinite(v)) return false;
    } else if (n.type === 'array') {
      for (const item of n.items) todo.push(item);
    } else if (n.type === 'object') {
      for (const m of n.members) todo.push(m.value);
    }
  }
  return true;
}
