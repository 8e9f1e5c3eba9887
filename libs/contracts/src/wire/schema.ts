import { z } from 'zod';
import { WireFormatError, type Check } from './check';

/**
 * Wire types as zod schemas (ADR 21). A schema reads a value straight off the wire (what JSON.parse
 * made) into the declared type: a fresh object holding only the declared fields, so a newer peer can
 * add one during a rolling upgrade without breaking an older one; Buffers from base64, Dates from
 * ISO strings. Writing is JSON's: encodeWire turns Buffers into base64 and a Date writes itself as
 * an ISO string, after `writer` has dropped what the schema does not declare.
 */

/** Strings are bounded too (an annotation may be long; the message bound applies on top). */
const MAX_STRING = 16 << 20;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const str = z.string().max(MAX_STRING);
export const bool = z.boolean();
/** A non-negative safe integer (sizes, offsets, page sizes). */
export const count = z.int().nonnegative();

/** Bytes travel as base64; the sender keeps the whole message under MAX_MESSAGE_BYTES. */
export const bytes = z.string().transform((s, ctx): Buffer => {
  if (s.length % 4 === 0 && BASE64.test(s)) return Buffer.from(s, 'base64');
  ctx.issues.push({ code: 'custom', message: 'base64 bytes', input: s });
  return z.NEVER;
});

/** A point in time travels as an ISO 8601 string (Date.toJSON). */
export const time = str.transform((s, ctx): Date => {
  const at = new Date(s);
  if (!Number.isNaN(at.getTime())) return at;
  ctx.issues.push({ code: 'custom', message: 'a time', input: s });
  return z.NEVER;
});

export const empty = z.object({});

/** The schema as a Check: its value, or WireFormatError naming the path of the first problem. */
export function decoder<S extends z.ZodType>(schema: S): Check<z.output<S>> {
  return (value, path = '') => {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const at = issue.path.reduce<string>(
      (p, key) => (typeof key === 'number' ? `${p}[${key}]` : p ? `${p}.${String(key)}` : String(key)),
      path,
    );
    throw new WireFormatError(at, issue.code === 'invalid_type' ? article(issue.expected) : issue.message);
  };
}

function article(what: string): string {
  return /^[aeiou]/.test(what) ? `an ${what}` : `a ${what}`;
}

/**
 * What goes on the wire for a value of the schema's type: only the declared fields, recursively,
 * and no undefined ones (JSON drops those anyway). Built once per schema; a value passes through
 * as it is where the schema declares no object inside it.
 */
export function writer<S extends z.ZodType>(schema: S): (value: z.output<S>) => unknown {
  return (writerOf(schema) ?? identity) as (value: z.output<S>) => unknown;
}

type Write = (value: unknown) => unknown;
const identity: Write = (v) => v;

/** Undefined where the schema's values go out as they are. */
function writerOf(schema: z.ZodType): Write | undefined {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) {
    const inner = writerOf(schema.unwrap() as z.ZodType);
    return inner && ((v) => (v === null || v === undefined ? v : inner(v)));
  }
  if (schema instanceof z.ZodArray) {
    const item = writerOf(schema.element as z.ZodType);
    return item && ((v) => (v as unknown[]).map(item));
  }
  if (schema instanceof z.ZodObject) {
    const fields = Object.entries(schema.shape as Record<string, z.ZodType>).map(
      ([key, field]) => [key, writerOf(field) ?? identity] as const,
    );
    return (v) => {
      const src = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [key, write] of fields) {
        const field = src[key];
        if (field !== undefined) out[key] = write(field);
      }
      return out;
    };
  }
  return undefined;
}
