/**
 * What reading the wire yields: a check takes an `unknown` straight off the wire and either returns
 * a value of the declared type (a fresh object holding only the declared fields) or throws
 * WireFormatError naming the path. The operation tables build their checks from zod schemas
 * (schema.ts, ADR 21); the few hand-made checks below remain for the error envelope (envelope.ts).
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

/** A non-negative safe integer (sizes, offsets, page sizes). */
export const count: Check<number> = (v, path = '') => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new WireFormatError(path, 'a non-negative integer');
  return v;
};

export function opt<T>(check: Check<T>): OptionalCheck<T> {
  const f = (v: unknown, path?: string): T | undefined => (v === undefined ? undefined : check(v, path));
  return Object.assign(f, { optional: true as const });
}

export function arr<T>(check: Check<T>, max = 100_000): Check<T[]> {
  return (v, path = '') => {
    if (!Array.isArray(v) || v.length > max) throw new WireFormatError(path, `an array (at most ${max})`);
    return v.map((item, i) => check(item, `${path}[${i}]`));
  };
}

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
