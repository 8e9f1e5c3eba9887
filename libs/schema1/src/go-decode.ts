/**
 * Decoding a parsed JSON tree into "Go typed" values with Go 1.19 `json.Unmarshal` semantics, for
 * the few struct shapes schema1 needs. What matters for byte-exact results:
 *
 * - object keys match struct fields exactly first, then case-insensitively (ASCII letters, plus
 *   U+017F for `s` and U+212A for `k`, as Go's fold functions do); unknown keys are ignored; a
 *   repeated key decodes again into the same field, merging into structs already there;
 * - `null` sets pointers and slices to nil and leaves every other kind unchanged;
 * - arrays decode into the existing slice, reusing its elements and its capacity (Go grows by
 *   half, at least to 4), then cut it to the array length; an empty array gives an empty slice;
 * - any kind mismatch (a number for a string, an object for a slice, a fraction for an int, a bad
 *   time) makes the whole Unmarshal fail, reported here as GoDecodeError.
 */
import { type GoJsonNode } from './go-json-parse';
import { GO_ZERO_TIME, parseGoTimeJson, type GoTime } from './go-time';

export type GoType =
  | { kind: 'string' }
  | { kind: 'bool' }
  | { kind: 'int' }
  | { kind: 'time' }
  /** json.RawMessage: the raw bytes of any value (`null` too). */
  | { kind: 'raw' }
  | { kind: 'slice'; elem: GoType }
  | { kind: 'ptr'; elem: GoType }
  | { kind: 'struct'; fields: [name: string, type: GoType][] };

/** A Go slice header: `backing.length` is the capacity. */
export interface GoSlice {
  backing: unknown[];
  len: number;
}

export type GoStruct = Record<string, unknown>;

export class GoDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoDecodeError';
  }
}

export const goString: GoType = { kind: 'string' };
export const goBool: GoType = { kind: 'bool' };
export const goInt: GoType = { kind: 'int' };
export const goTime: GoType = { kind: 'time' };
export const goRaw: GoType = { kind: 'raw' };
export const goSlice = (elem: GoType): GoType => ({ kind: 'slice', elem });
export const goPtr = (elem: GoType): GoType => ({ kind: 'ptr', elem });
export const goStruct = (fields: [string, GoType][]): GoType => ({ kind: 'struct', fields });

export function goZero(t: GoType): unknown {
  switch (t.kind) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'int':
      return 0;
    case 'time':
      return GO_ZERO_TIME;
    case 'raw':
    case 'slice':
    case 'ptr':
      return null;
    case 'struct': {
      const out: GoStruct = {};
      for (const [name, ft] of t.fields) out[name] = goZero(ft);
      return out;
    }
  }
}

/** Go's case-insensitive field-name match (fold.go in Go 1.19) for ASCII field names. */
function foldEqual(name: string, key: string): boolean {
  const keyChars = Array.from(key);
  if (keyChars.length !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    const n = name[i];
    const k = keyChars[i];
    if (n === k) continue;
    const nl = n.toLowerCase();
    if (/[a-z]/.test(nl) && k.length === 1 && k.charCodeAt(0) < 0x80 && k.toLowerCase() === nl) continue;
    if (nl === 's' && k === '\u017f') continue;
    if (nl === 'k' && k === '\u212a') continue;
    return false;
  }
  return true;
}

function findField(t: Extract<GoType, { kind: 'struct' }>, key: string): [string, GoType] | undefined {
  return t.fields.find(([name]) => name === key) ?? t.fields.find(([name]) => foldEqual(name, key));
}

function typeError(what: string, t: GoType): never {
  throw new GoDecodeError(`json: cannot unmarshal ${what} into Go value of type ${t.kind}`);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Decodes `node` into the current value `cur` of type `t`, returning the new value. */
export function goDecodeInto(buf: Uint8Array, node: GoJsonNode, t: GoType, cur: unknown): unknown {
  if (t.kind === 'raw') return Buffer.from(buf.subarray(node.start, node.end));
  if (node.type === 'null') {
    return t.kind === 'ptr' || t.kind === 'slice' ? null : cur;
  }
  switch (t.kind) {
    case 'string':
      if (node.type !== 'string') typeError(node.type, t);
      return node.value;
    case 'bool':
      if (node.type !== 'true' && node.type !== 'false') typeError(node.type, t);
      return node.type === 'true';
    case 'int': {
      if (node.type !== 'number') typeError(node.type, t);
      const text = Buffer.from(buf.subarray(node.start, node.end)).toString('latin1');
      if (!/^-?[0-9]+$/.test(text)) typeError(`number ${text}`, t);
      const n = BigInt(text);
      if (n < INT64_MIN || n > INT64_MAX) typeError(`number ${text}`, t);
      return Number(n);
    }
    case 'time': {
      const parsed: GoTime | null = parseGoTimeJson(
        Buffer.from(buf.subarray(node.start, node.end)).toString('latin1'),
      );
      if (!parsed) throw new GoDecodeError('time: cannot parse value as RFC 3339');
      return parsed;
    }
    case 'ptr':
      return goDecodeInto(buf, node, t.elem, cur ?? goZero(t.elem));
    case 'slice': {
      if (node.type !== 'array') typeError(node.type, t);
      let s: GoSlice = (cur as GoSlice | null) ?? { backing: [], len: 0 };
      let i = 0;
      for (const item of node.items) {
        if (i >= s.backing.length) {
          const cap = s.backing.length;
          const newcap = Math.max(cap + Math.floor(cap / 2), 4);
          const backing: unknown[] = [];
          for (let k = 0; k < newcap; k++) backing.push(k < s.len ? s.backing[k] : goZero(t.elem));
          s = { backing, len: s.len };
        }
        if (i >= s.len) s = { backing: s.backing, len: i + 1 };
        s.backing[i] = goDecodeInto(buf, item, t.elem, s.backing[i]);
        i++;
      }
      if (i < s.len) s = { backing: s.backing, len: i };
      if (i === 0) s = { backing: [], len: 0 };
      return s;
    }
    case 'struct': {
      if (node.type !== 'object') typeError(node.type, t);
      const obj = cur as GoStruct;
      for (const m of node.members) {
        const field = findField(t, m.key);
        if (!field) continue;
        obj[field[0]] = goDecodeInto(buf, m.value, field[1], obj[field[0]]);
      }
      return obj;
    }
  }
}

/** `json.Unmarshal(data, &v)` for a fresh zero value of struct type `t`. */
export function goUnmarshalStruct(buf: Uint8Array, node: GoJsonNode, t: GoType): GoStruct {
  return goDecodeInto(buf, node, t, goZero(t)) as GoStruct;
}

/** The elements of a decoded slice (nil gives none). */
export function goSliceItems<T>(s: unknown): T[] {
  const slice = s as GoSlice | null;
  return slice ? (slice.backing.slice(0, slice.len) as T[]) : [];
}
