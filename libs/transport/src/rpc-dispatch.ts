import { Logger } from '@nestjs/common';
import { INTERNAL_ERROR, WireFormatError, type OpHandlers, type OpTable, type Reply } from '@wharf/contracts';
import { isDatabaseUnavailable } from '@wharf/database';
import { RegistryError } from '@wharf/oci';
import { rpcMetrics } from '@wharf/observability';

/**
 * Runs one operation for a message that came off the wire (NATS or the internal HTTP RPC route):
 * the request is validated here, once, and every outcome becomes a Reply. A RegistryError keeps
 * its codes and status; a database that cannot be reached leaves as UNAVAILABLE; anything else is
 * logged and leaves as UNKNOWN, never with a stack trace.
 */
export async function dispatchRpc<T extends OpTable>(
  ops: T,
  handlers: OpHandlers<T>,
  name: string,
  raw: unknown,
  log: Logger,
  service = 'unknown',
): Promise<Reply<unknown>> {
  const started = performance.now();
  const reply = await run(ops, handlers, name, raw, log);
  const seconds = (performance.now() - started) / 1000;
  const known = Object.prototype.hasOwnProperty.call(ops, name);
  const outcome = reply.ok ? 'ok' : 'error' in reply && reply.error === INTERNAL_ERROR ? 'internal' : 'error';
  rpcMetrics().record(service, known ? name : 'unknown', outcome, seconds);
  // With WHARF_LOG_LEVEL=debug, one line per operation, under the caller's request id.
  log.debug(`${name} ${outcome} ${(seconds * 1000).toFixed(1)}ms`);
  return reply;
}

async function run<T extends OpTable>(
  ops: T,
  handlers: OpHandlers<T>,
  name: string,
  raw: unknown,
  log: Logger,
): Promise<Reply<unknown>> {
  const op = Object.prototype.hasOwnProperty.call(ops, name) ? ops[name] : undefined;
  if (!op) {
    log.warn(`no such operation ${name}`);
    return { ok: false, error: INTERNAL_ERROR };
  }
  let request: never;
  try {
    request = op.request(raw) as never;
  } catch (e) {
    log.warn(`malformed ${name} request: ${e instanceof WireFormatError ? e.message : String(e)}`);
    return { ok: false, error: INTERNAL_ERROR };
  }
  try {
    const value = await (handlers[name as keyof T] as (req: never) => Promise<unknown>)(request);
    return { ok: true, value: op.writeResponse(value) };
  } catch (e) {
    if (e instanceof RegistryError) return { ok: false, error: e.toJSON() };
    // The caller's edge answers it as 503, which clients retry (the all-in-one maps it the same way).
    if (isDatabaseUnavailable(e)) {
      log.warn(`${name} failed, database unavailable: ${(e as Error)?.message ?? String(e)}`);
      return { ok: false, error: new RegistryError('UNAVAILABLE', 'database unavailable').toJSON() };
    }
    log.error(`${name} failed: ${(e as Error)?.stack ?? String(e)}`);
    return { ok: false, error: INTERNAL_ERROR };
  }
}
