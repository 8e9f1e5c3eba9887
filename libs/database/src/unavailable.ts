import type { Queryable } from './rows';

// Which failures mean "the database cannot be reached right now" rather than "this request is
// wrong" or "the code is wrong". Decided once, here, so the all-in-one (where a service's error
// reaches the HTTP edge as it was thrown) and the distributed services (where it crosses NATS)
// answer the same: 503 UNAVAILABLE, which clients retry, instead of 500 UNKNOWN.

/** Socket errors on the way to the server (refused while it restarts, reset when it dies). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * pg's own messages for a connection that went away or never came, and pg-pool's for waiting too
 * long for one: these carry no code.
 */
const CONNECTION_LOST =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable)/;

/**
 * True when `e` says the database is unreachable: refused or lost connections, a pool that could
 * not hand out a connection in time, and the server's own "going away" SQLSTATEs — 57P01
 * admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, recovering) and
 * class 08 (connection exceptions). TypeORM wraps query errors (QueryFailedError.driverError).
 */
export function isDatabaseUnavailable(e: unknown): boolean {
  for (let err = e, depth = 0; err && typeof err === 'object' && depth < 4; depth++) {
    const { code, message, driverError, errors } = err as {
      code?: unknown;
      message?: unknown;
      driverError?: unknown;
      errors?: unknown;
    };
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code) || /^(57P0[123]|08...)$/.test(code)) return true;
    }
    if (typeof message === 'string' && CONNECTION_LOST.test(message)) return true;
    // Node's connect to a name with several addresses fails with an AggregateError of refusals.
    if (Array.isArray(errors) && errors.length && errors.every((x) => isDatabaseUnavailable(x))) return true;
    err = driverError;
  }
  return false;
}

/**
 * Readiness of one database: `SELECT 1` within `timeoutMs`. A readiness probe must answer in time
 * even when the server hangs or the pool is exhausted, which the pool's own timeouts (the request
 * timeout, 30 s by default) do not promise.
 */
export async function pingDatabase(db: Queryable, timeoutMs = 2_000): Promise<'ok' | string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      db.query('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return 'ok';
  } catch (e) {
    return isDatabaseUnavailable(e) ? `unavailable: ${(e as Error).message}` : (e as Error).message;
  } finally {
    clearTimeout(timer);
  }
}
