import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Transform, type Readable } from 'node:stream';

/** Why a request to an upstream failed, as the gateway reacts to it. */
export type UpstreamFailure = 'not-found' | 'rate-limited' | 'unavailable' | 'denied' | 'corrupt';

/** `reason` is for people and logs: it never holds credentials, tokens or signed query strings. */
export class UpstreamError extends Error {
  constructor(
    readonly upstream: string,
    readonly failure: UpstreamFailure,
    readonly reason: string,
    readonly status?: number,
    readonly retryAfter?: string,
  ) {
    super(reason);
    this.name = 'UpstreamError';
  }
}

export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'wharf-proxy';

/** The keep-alive agents and timeouts one upstream's requests share. */
export class HttpTransport {
  // Free sockets close before a Node server's default 5 s keep-alive does, so reuse rarely races a close.
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 4_000 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, timeout: 4_000 });

  constructor(
    readonly upstream: string,
    readonly timeoutMs: number,
  ) {}

  error(failure: UpstreamFailure, problem: string, status?: number, retryAfter?: string): UpstreamError {
    return new UpstreamError(
      this.upstream,
      failure,
      `upstream ${this.upstream}: ${problem}`,
      status,
      retryAfter,
    );
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /**
   * Sends a body-less request and follows redirects. Authorization goes only to `trustedOrigin`:
   * blob GETs are commonly redirected to S3 or a CDN, which must not see the upstream's credentials.
   */
  async follow(
    method: 'GET' | 'HEAD',
    url: URL,
    headers: Record<string, string>,
    authorization: string | undefined,
    trustedOrigin: string,
  ): Promise<{ res: IncomingMessage; url: URL }> {
    let current = url;
    for (let hops = 0; ; hops++) {
      const send: Record<string, string> = { 'user-agent': USER_AGENT, ...headers };
      if (authorization && current.origin === trustedOrigin) send.authorization = authorization;
      const res = await this.once(method, current, send);
      const location = res.headers.location;
      if (!REDIRECTS.has(res.statusCode ?? 0) || !location) return { res, url: current };
      res.resume();
      if (hops === MAX_REDIRECTS)
        throw this.error('unavailable', `more than ${MAX_REDIRECTS} redirects from ${url.origin}`);
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw this.error('unavailable', `${current.origin} redirected to an invalid location`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:')
        throw this.error('unavailable', `${current.origin} redirected to a ${next.protocol} URL`);
      current = next;
    }
  }

  private once(
    method: string,
    url: URL,
    headers: Record<string, string>,
    retried = false,
  ): Promise<IncomingMessage> {
    const secure = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(url, {
        method,
        headers,
        agent: secure ? this.httpsAgent : this.httpAgent,
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy();
      }, this.timeoutMs);
      req.once('response', (res) => {
        clearTimeout(timer);
        resolve(res);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // A kept-alive socket the server closed meanwhile: Node's documented remedy is one retry.
        if (!timedOut && !retried && req.reusedSocket && err.code === 'ECONNRESET') {
          this.once(method, url, headers, true).then(resolve, reject);
          return;
        }
        // Only the origin: a redirect target's query may carry a signature.
        const problem = timedOut
          ? `no response from ${url.origin} within ${formatMs(this.timeoutMs)}`
          : `cannot reach ${url.origin}: ${err.code ?? err.message}`;
        reject(this.error('unavailable', problem));
      });
      req.end();
    });
  }

  /** The whole body, or an 'unavailable' error once it exceeds `max` bytes (`what` names it). */
  async readCapped(res: IncomingMessage, max: number, what: string): Promise<Buffer> {
    const declared = Number(res.headers['content-length']);
    if (declared > max) {
      res.destroy();
      throw this.error('unavailable', `${what} is ${declared} bytes, more than the ${max} allowed`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > max) {
          res.destroy();
          throw this.error('unavailable', `${what} is more than the ${max} bytes allowed`);
        }
        chunks.push(chunk);
      }
    } catch (e) {
      if (e instanceof UpstreamError) throw e;
      throw this.error(
        'unavailable',
        `${what} broke off: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    return Buffer.concat(chunks);
  }

  /**
   * The upstream's error in words: `CODE message` from a registry error body, else its first line.
   * Read best-effort and capped; the status alone is enough when this yields nothing.
   */
  async errorDetail(res: IncomingMessage): Promise<string> {
    let body: Buffer;
    try {
      body = await this.readCapped(res, 16 * 1024, 'error body');
    } catch {
      return '';
    }
    const text = body.toString('utf8');
    try {
      const errors = (JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] }).errors;
      if (Array.isArray(errors) && errors.length)
        return clean(
          errors.map((e) => [e.code, e.message].filter((p) => typeof p === 'string').join(' ')).join('; '),
        );
    } catch {
      // not JSON: fall through to the text
    }
    return clean(text.split('\n')[0]);
  }

  /** Classifies a non-2xx response; the message carries the status and the upstream's words. */
  failure(res: IncomingMessage, detail: string, prefix = ''): UpstreamError {
    const status = res.statusCode ?? 0;
    const problem =
      `${prefix}${status} ${http.STATUS_CODES[status] ?? ''}`.trimEnd() + (detail ? `: ${detail}` : '');
    const retryAfter = res.headers['retry-after'];
    if (status === 404) return this.error('not-found', problem, status);
    if (status === 429) return this.error('rate-limited', problem, status, retryAfter);
    if (status === 401 || status === 403) return this.error('denied', problem, status);
    return this.error('unavailable', problem, status, retryAfter);
  }

  /**
   * Passes a blob body through, failing it when the upstream sends nothing for `idleMs` while the
   * reader is waiting (a reader that is itself slow leaves bytes buffered here, which is not idleness),
   * or when it ends short of `expected` bytes.
   */
  guardBody(res: IncomingMessage, idleMs: number, expected: number): Readable {
    let seen = 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(onIdle, idleMs);
      timer.unref();
    };
    // Room for a megabyte either side: with the 16 KiB default the socket is paused every few chunks.
    const out = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _enc, done) {
        seen += chunk.length;
        arm();
        done(null, chunk);
      },
      flush: (done) => {
        clearTimeout(timer);
        if (expected >= 0 && seen !== expected)
          done(this.error('unavailable', `blob body ended after ${seen} of ${expected} bytes`));
        else done();
      },
    });
    const onIdle = (): void => {
      if (out.readableLength > 0) return arm();
      out.destroy(
        this.error('unavailable', `blob body stalled: no data for ${formatMs(idleMs)} after ${seen} bytes`),
      );
    };
    res.on('error', (e: NodeJS.ErrnoException) =>
      out.destroy(
        this.error('unavailable', `blob body broke off after ${seen} bytes: ${e.code ?? e.message}`),
      ),
    );
    // A connection cut mid-body may end the response with 'close' alone, without 'end' or 'error'.
    res.on('close', () => {
      if (!res.complete && !out.destroyed)
        out.destroy(this.error('unavailable', `blob body broke off after ${seen} bytes`));
    });
    out.on('close', () => {
      clearTimeout(timer);
      if (!res.complete) res.destroy();
    });
    res.pipe(out);
    arm();
    return out;
  }
}

/** Content-Length as a number, or -1 when the upstream did not send a usable one. */
export function contentLength(res: IncomingMessage): number {
  const raw = res.headers['content-length'];
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

function clean(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
