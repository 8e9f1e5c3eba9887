/**
 * A small validator for wire types: each check takes an `unknown` straight off the wire and either
 * returns a value of the declared type (a fresh object holding only the declared fields) or throws
 * WireFormatError naming the path. Unknown fields are dropped rather than refused, so a newer peer
 * can add one during a rolling upgrade without breaking an older one.
 */
export class WireFormatError extends Error {
  constructor(
    readonly path: string,
    expected: string,
  ) {
    super(`wire value ${path || '(root)'} is not ${expected}`);
    this.name = 'WireFormatError';
  }
}

export type Check<T> = (value: unknown, path?: string) => T;

/** Marks a field that may be absent (or undefined); never sent as null. */
export interface OptionalCheck<T> {
  (value: unknown, path?: string): T | undefined;
  readonly optional: true;
}

type Shape = Record<string, Check<unknown> | OptionalCheck<unknown>>;
type Out<C> = C extends (value: unknown, path?: string) => infer T ? T : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

export type Infer<C> = Out<C>;
export type ObjectOf<S extends Shape> = Simplify<
  { [K in keyof S as S[K] extends OptionalCheck<unknown> ? never : K]: Out<S[K]> } & {
    [K in keyof S as S[K] extends OptionalCheck<unknown> ? K : never]?: Exclude<Out<S[K]>, undefined>;
  }
>;

/** Strings are bounded too (an annotation may be long; the message bound applies on top). */
const MAX_STRING = 16 << 20;

export const str: Check<string> = (v, path = '') => {
  if (typeof v !== 'string' || v.length > MAX_STRING) throw new WireFormatError(path, 'a string');
  return v;
};

export const bool: Check<boolean> = (v, path = '') => {
  if (typeof v !== 'boolean') throw new WireFormatError(path, 'a boolean');
  return v;
};

/** A non-negative safe integer (sizes, offsets, page sizes). */
export const count: Check<number> = (v, path = '') => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new WireFormatError(path, 'a non-negative integer');
  return v;
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Bytes travel as base64; the sender keeps the whole message under MAX_MESSAGE_BYTES. */
export const bytes: Check<Buffer> = (v, path = '') => {
  if (typeof v !== 'string' || v.length % 4 !== 0 || !BASE64.test(v))
    throw new WireFormatError(path, 'base64 bytes');
  return Buffer.from(v, 'base64');
};

export function literal<T extends string>(value: T): Check<T> {
  return (v, path = '') => {
    if (v !== value) throw new WireFormatError(path, JSON.stringify(value));
    return value;
  };
}

export function opt<T>(check: Check<T>): OptionalCheck<T> {
  const f = (v: unknown, path?: string): T | undefined => (v === undefined ? undefined : check(v, path));
  return Object.assign(f, { optional: true as const });
}

export function nullable<T>(check: Check<T>): Check<T | null> {
  return (v, path) => (v === null ? null : check(v, path));
}

export function arr<T>(check: Check<T>, max = 100_000): Check<T[]> {
  return (v, path = '') => {
    if (!Array.isArray(v) || v.length > max) throw new WireFormatError(path, `an array (at most ${max})`);
    return v.map((item, i) => check(item, `${path}[${i}]`));
  };
}

/** A string → string map (annotations). */
export const stringMap: Check<Record<string, string>> = (v, path = '') => {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new WireFormatError(path, 'an object');
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) out[k] = str(value, `${path}.${k}`);
  return out;
};

/** Any JSON value, kept as is (error details are free-form by the spec). */
export const json: Check<unknown> = (v) => v;

export function obj<S extends Shape>(shape: S): Check<ObjectOf<S>> {
  return (v, path = '') => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new WireFormatError(path, 'an object');
    const src = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, check] of Object.entries(shape)) {
      const value = check(src[key], path ? `${path}.${key}` : key);
      if (value !== undefined) out[key] = value;
    }
    return out as ObjectOf<S>;
  };
}
