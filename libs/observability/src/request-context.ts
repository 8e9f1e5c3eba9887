import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';

/**
 * What follows one request through a process and across the wire: its id (in every log line, see
 * libs/config's logger) and, when tracing, the span the next outgoing call is a child of.
 */
export interface RequestContext {
  readonly requestId: string;
  /** W3C traceparent for outgoing calls: the current span's, or the caller's when not tracing. */
  readonly traceparent?: string;
  readonly span?: Span;
}

export const REQUEST_ID_HEADER = 'x-request-id';
export const TRACEPARENT_HEADER = 'traceparent';

const storage = new AsyncLocalStorage<RequestContext>();

export function runInContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

export function newRequestId(): string {
  return randomUUID();
}

/** A caller's id is logged verbatim, so only short, plain tokens are taken; others get a new one. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function acceptRequestId(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface ParsedTraceparent {
  traceId: string;
  spanId: string;
  flags: number;
}

/** Version 00 of W3C trace context; all-zero ids are invalid by the spec. */
export function parseTraceparent(value: string | string[] | undefined): ParsedTraceparent | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value);
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return undefined;
  return { traceId: m[1], spanId: m[2], flags: parseInt(m[3], 16) };
}

export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${flags.toString(16).padStart(2, '0')}`;
}

/** Headers that carry the current request to another service (NATS message or internal HTTP). */
export function propagationHeaders(ctx = currentContext()): Record<string, string> {
  if (!ctx) return {};
  return ctx.traceparent
    ? { [REQUEST_ID_HEADER]: ctx.requestId, [TRACEPARENT_HEADER]: ctx.traceparent }
    : { [REQUEST_ID_HEADER]: ctx.requestId };
}
