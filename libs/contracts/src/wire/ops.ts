import type { Check } from './check';

/** One request/reply operation: its name (the last subject token) and the checks for both sides. */
export interface WireOp<Req, Res> {
  readonly name: string;
  readonly request: Check<Req>;
  readonly response: Check<Res>;
}

export type OpRequest<O> = O extends WireOp<infer Req, unknown> ? Req : never;
export type OpResponse<O> = O extends WireOp<unknown, infer Res> ? Res : never;

export function wireOp<Req, Res>(name: string, request: Check<Req>, response: Check<Res>): WireOp<Req, Res> {
  return { name, request, response };
}

export type OpTable = Record<string, WireOp<unknown, unknown>>;

/** The service side of a table: one function per operation, wire request in, wire response out. */
export type OpHandlers<T extends Record<string, WireOp<unknown, unknown>>> = {
  [K in keyof T]: (req: OpRequest<T[K]>) => Promise<OpResponse<T[K]>>;
};
