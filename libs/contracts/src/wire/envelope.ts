import { ERROR_CODES, RegistryError, type ErrorCode } from '@wharf/oci';
import { arr, count, json, obj, opt, str, type Check, WireFormatError } from './check';

/**
 * NATS's max payload is 1 MiB, and a NestJS 11 NATS handler whose reply exceeds it crashes. Every
 * message stays under this bound: a request that would not fit goes over the service's internal
 * HTTP port instead, and so does a call whose reply would not (the reply says `oversized`).
 */
export const MAX_MESSAGE_BYTES = 512 << 10;
/** Room left inside MAX_MESSAGE_BYTES for Nest's packet wrapper (id, pattern, isDisposed). */
export const MAX_PAYLOAD_BYTES = MAX_MESSAGE_BYTES - (4 << 10);

/** A RegistryError on the wire: RegistryError.toJSON(). */
export interface WireError {
  errors: { code: ErrorCode; message: string; detail?: unknown }[];
  status?: number;
}

const ERROR_CODE_NAMES = Object.keys(ERROR_CODES) as ErrorCode[];

const errorCode: Check<ErrorCode> = (v, path = '') => {
  // An unknown code (a newer peer) becomes UNKNOWN rather than failing the whole reply.
  if (typeof v !== 'string') throw new WireFormatError(path, 'an error code');
  return (ERROR_CODE_NAMES as string[]).includes(v) ? (v as ErrorCode) : 'UNKNOWN';
};

export const wireError: Check<WireError> = obj({
  errors: arr(obj({ code: errorCode, message: str, detail: opt(json) }), 1000),
  status: opt(count),
});

export function toWireError(e: RegistryError): WireError {
  return e.toJSON();
}

export function fromWireError(e: WireError): RegistryError {
  const status = e.status !== undefined && e.status >= 400 && e.status <= 599 ? e.status : undefined;
  return RegistryError.fromJSON({ errors: e.errors, status });
}

/** The reply to every call, over NATS and over the internal HTTP RPC route alike. */
export type Reply<T> =
  | { ok: true; value: T }
  | { ok: false; error: WireError }
  /** The reply would not fit a NATS message: ask again over the internal HTTP port. */
  | { ok: false; oversized: true };

export function replyOf<T>(value: Check<T>): Check<Reply<T>> {
  return (v, path = '') => {
    if (!v || typeof v !== 'object') throw new WireFormatError(path, 'a reply');
    const r = v as { ok?: unknown; value?: unknown; error?: unknown; oversized?: unknown };
    if (r.ok === true) return { ok: true, value: value(r.value, `${path}.value`) };
    if (r.ok === false && r.oversized === true) return { ok: false, oversized: true };
    if (r.ok === false) return { ok: false, error: wireError(r.error, `${path}.error`) };
    throw new WireFormatError(path, 'a reply');
  };
}

/** What a service answers for a failure that is not a RegistryError: no detail leaves the process. */
export const INTERNAL_ERROR: WireError = {
  errors: [{ code: 'UNKNOWN', message: ERROR_CODES.UNKNOWN.message }],
};

/** JSON with Buffers as base64 (what `bytes` reads back); JSON.stringify alone would spell out every byte. */
export function encodeWire(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key];
    return Buffer.isBuffer(raw) ? raw.toString('base64') : v;
  });
}
