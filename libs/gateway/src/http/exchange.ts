import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { copyBlob } from '@wharf/contracts';
import { isDatabaseUnavailable } from '@wharf/database';
import { ERROR_CODES, RegistryError } from '@wharf/oci';
import type { ProxyTarget } from '@wharf/proxy';

/** Every response carries it, 401s and 404s included, as Distribution does. */
export const API_VERSION = { 'Docker-Distribution-API-Version': 'registry/2.0' };

/**
 * One request/response pair, with the few operations handlers need. Handlers work on Node's own
 * request and response objects so bytes stream without a framework in the way.
 */
export class Exchange {
  readonly path: string;
  readonly query: URLSearchParams;
  /** The authenticated user, once the access guard has let the request through (for events). */
  actor?: string;
  /** The upstream a mirrored repository's misses come from (pull-through cache), when it is one. */
  proxy?: ProxyTarget;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    this.query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  }

  /** All values of a header that may be repeated (Accept). */
  headerValues(name: string): string[] {
    const v = this.req.headers[name];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  }

  /** Content-Length when the client sent a valid one. */
  contentLength(): number | undefined {
    const v = this.req.headers['content-length'];
    if (v === undefined || !/^\d+$/.test(v)) return undefined;
    return Number(v);
  }

  /** True when the request carries a body (a non-zero Content-Length or a chunked transfer). */
  hasBody(): boolean {
    const len = this.contentLength();
    if (len !== undefined) return len > 0;
    return this.req.headers['transfer-encoding'] !== undefined;
  }

  /**
   * Absolute base URL for Location headers: behind a TLS ingress the forwarded headers say how the
   * client reached us; otherwise Host does.
   */
  baseUrl(): string {
    const first = (v: string | undefined): string | undefined => v?.split(',')[0]?.trim() || undefined;
    // A gateway serving TLS itself (WHARF_TLS_CERT) was reached over https.
    const own = (this.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    const proto = first(this.header('x-forwarded-proto')) ?? own;
    const host = first(this.header('x-forwarded-host')) ?? this.req.headers.host ?? 'localhost';
    return `${proto.toLowerCase() === 'https' ? 'https' : 'http'}://${host}`;
  }

  send(status: number, headers: OutgoingHttpHeaders = {}, body?: Buffer | string): void {
    const buf = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    this.res.writeHead(status, {
      ...API_VERSION,
      ...(headers['Content-Length'] === undefined ? { 'Content-Length': buf ? buf.length : 0 } : {}),
      ...headers,
    });
    this.res.end(this.method === 'HEAD' ? undefined : buf);
  }

  json(status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
    this.send(status, { 'Content-Type': 'application/json', ...headers }, JSON.stringify(value));
  }

  /** Streams `body` to the client; a failure after the headers went out can only cut the connection. */
  async stream(status: number, headers: OutgoingHttpHeaders, body: Readable): Promise<void> {
    this.res.writeHead(status, { ...API_VERSION, ...headers });
    if (this.method === 'HEAD') {
      body.destroy();
      this.res.end();
      return;
    }
    try {
      // A filesystem blob copies itself through reused buffers (no garbage per byte); others pipe.
      await copyBlob(body, this.res);
    } catch {
      body.destroy();
      this.res.destroy();
    }
  }

  private clientGone(e: unknown): boolean {
    const code = (e as { code?: string } | null)?.code;
    return (
      this.req.destroyed &&
      !this.req.complete &&
      (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (e as Error)?.message === 'aborted')
    );
  }

  error(e: unknown, onUnexpected: (e: unknown) => void): void {
    // In the all-in-one a service's database error arrives here as thrown; a database that is down
    // or restarting is the 503 clients retry, not a server bug (the distributed services send it
    // as UNAVAILABLE already, rpc-dispatch.ts). Who noticed it logs the outage, not every request.
    const err =
      e instanceof RegistryError
        ? e
        : isDatabaseUnavailable(e)
          ? new RegistryError('UNAVAILABLE', 'database unavailable')
          : undefined;
    // A client that hangs up mid-body is not a server failure; there is nobody left to answer.
    if (this.clientGone(e)) {
      this.res.destroy();
      return;
    }
    if (!err) onUnexpected(e);
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    // Stop reading a body we will not use, without waiting for it: Node discards the rest.
    if (!this.req.complete) {
      this.req.unpipe();
      this.req.resume();
    }
    const status = err?.status ?? 500;
    const errors = err?.errors ?? [{ code: 'UNKNOWN', message: ERROR_CODES.UNKNOWN.message }];
    this.json(status, { errors });
  }
}
