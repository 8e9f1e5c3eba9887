import { z } from 'zod';
import type { Check } from './check';
import { decoder, empty, writer } from './schema';

/**
 * One request/reply operation of a service (ADR 21): how its request and its reply are read off the
 * wire and put on it. The request is the API method's one argument, as it is on the wire; the
 * reply is read back as the API method's answer. A service's operations form a table keyed by
 * operation name (the last subject token), from which the remote client (RpcClient.methods) and
 * the service side (bindOps, dispatchRpc) are derived.
 */
export interface WireOp<Req, Res> {
  /** Reads a request off the wire. */
  readonly request: Check<Req>;
  /** Reads a reply off the wire: what the API method answers. */
  readonly response: Check<Res>;
  /** What goes on the wire for a request (`request` reads it back). */
  writeRequest(value: Req): unknown;
  /** What goes on the wire for the API method's answer (`response` reads it back). */
  writeResponse(value: Res): unknown;
}

export type OpRequest<O> = O extends WireOp<infer Req, unknown> ? Req : never;
export type OpResponse<O> = O extends WireOp<unknown, infer Res> ? Res : never;

export type OpTable = Record<string, WireOp<unknown, unknown>>;

/** One function per operation of a table: its request in, the API's answer out. */
export type OpHandlers<T extends OpTable> = {
  [K in keyof T]: (req: OpRequest<T[K]>) => Promise<OpResponse<T[K]>>;
};

/** How an operation's answer travels: read off the wire as the API's value, and put back. */
export interface WireReply<T> {
  readonly read: Check<T>;
  write(value: T): unknown;
}

/** An operation whose request is `request` on the wire, and whose answer travels as `reply` says. */
export function op<S extends z.ZodType, Res>(request: S, reply: WireReply<Res>): WireOp<z.output<S>, Res> {
  return {
    request: decoder(request),
    response: reply.read,
    writeRequest: writer(request),
    writeResponse: (value) => reply.write(value),
  };
}

/** An answer that travels as it is. */
export function reply<S extends z.ZodType>(schema: S): WireReply<z.output<S>> {
  return { read: decoder(schema), write: writer(schema) };
}

/**
 * An answer that travels as the one field `key` of an object (`{ stat: … }`): room for more fields
 * later, where a bare null or string would leave none.
 */
export function boxed<K extends string, S extends z.ZodType>(key: K, schema: S): WireReply<z.output<S>> {
  const read = decoder(z.object({ [key]: schema }));
  const write = writer(schema);
  return {
    read: (value, path) => (read(value, path) as Record<K, z.output<S>>)[key],
    write: (value) => ({ [key]: write(value) }),
  };
}

const emptyReply = decoder(empty);

/** No answer: `{}` on the wire, whatever a newer peer adds to it. */
export const noReply: WireReply<void> = {
  read: (value, path) => void emptyReply(value, path),
  write: () => ({}),
};

/**
 * The service side of a table: each operation answered by the method of the same name on `api`.
 * The compiler checks that `api` takes each operation's request and answers its reply.
 */
export function bindOps<T extends OpTable>(ops: T, api: OpHandlers<T>): OpHandlers<T> {
  const out: Partial<Record<keyof T, unknown>> = {};
  for (const name of Object.keys(ops) as (keyof T)[]) {
    out[name] = (req: never) => (api[name] as (req: never) => Promise<unknown>).call(api, req);
  }
  return out as OpHandlers<T>;
}
