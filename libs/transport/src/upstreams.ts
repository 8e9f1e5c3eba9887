import { Logger } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { INTERNAL_TOKEN_HEADER } from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';
import { propagationHeaders } from '@wharf/observability';
import { LazyBody } from './lazy-body';

/** Failures that mean "this replica did not take the request": safe to try another. */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

export function isConnectFailure(e: unknown): boolean {
  const err = e as { code?: string; cause?: { code?: string } } | null;
  return CONNECT_FAILURES.has(err?.code ?? '') || CONNECT_FAILURES.has(err?.cause?.code ?? '');
}

export interface UpstreamRequest {
  method: Dispatcher.HttpMethod;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /**
   * A streamed body (a client's upload chunk). Each attempt reads it through a fresh LazyBody, so a
   * replica that refused the connection has consumed nothing and the next one gets every byte.
   */
  stream?: Readable;
  /** 0 disables; uploads answer only once their whole body is stored. */
  headersTimeout?: number;
  bodyTimeout?: number;
}

/**
 * The data ports of one service's replicas (WHARF_BLOB_URL / WHARF_METADATA_URL): a keep-alive
 * undici Pool per URL, requests spread round-robin, and a request that could not reach a replica
 * (refused, reset before anything was read) retried on the next one. A single URL (a Kubernetes
 * Service) still gets the retry, which then lands on another pod behind the Service.
 */
export class Upstreams {
  private readonly pools: Pool[];
  private next = 0;

  constructor(
    readonly urls: string[],
    private readonly token: string,
    private readonly service: string,
    private readonly timeoutMs: number,
  ) {
    this.pools = urls.map(
      (u) =>
        new Pool(u, {
          connections: 256,
          keepAliveTimeout: 4_000,
          connectTimeout: Math.min(timeoutMs, 10_000),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        }),
    );
  }

  async request(req: UpstreamRequest): Promise<Dispatcher.ResponseData> {
    const start = this.next++ % this.pools.length;
    // With one URL, a couple of extra tries reach another pod behind the Service.
    const attempts = Math.max(this.pools.length, 3);
    let last: unknown;
    // Whoever serves it logs under the same request id and continues the same trace.
    const context = propagationHeaders();
    for (let i = 0; i < attempts; i++) {
      const pool = this.pools[(start + i) % this.pools.length];
      const lazy = req.stream ? new LazyBody(req.stream) : undefined;
      try {
        return await pool.request({
          method: req.method,
          path: req.path,
          headers: { ...req.headers, ...context, [INTERNAL_TOKEN_HEADER]: this.token },
          body: lazy ?? req.body,
          headersTimeout: req.headersTimeout,
          bodyTimeout: req.bodyTimeout,
        });
      } catch (e) {
        last = e;
        const retryable = isConnectFailure(e) && !lazy?.started;
        if (!retryable) break;
      }
    }
    throw unavailable(this.service, last);
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.close().catch(() => undefined)));
  }
}

/**
 * A replica that could not be reached, or died mid-request: 503 to the client, who retries. The
 * client's own hang-up is passed through unchanged so it is not mistaken for a server failure.
 */
export function unavailable(service: string, cause: unknown): Error {
  if (cause instanceof RegistryError) return cause;
  const code = (cause as { code?: string } | null)?.code;
  if (code === 'ECONNRESET' && (cause as Error).message === 'aborted') return cause as Error;
  // The cause names internal addresses: it goes to the log, not to the client.
  new Logger('upstreams').warn(`${service}: ${(cause as Error)?.message ?? String(cause)}`);
  return new RegistryError('UNAVAILABLE', `${service} service unavailable`);
}
