/**
 * An HTTP reverse proxy in front of an upstream registry, for the pull-through cache tests: Wharf is
 * configured with the tap's URL, so the tests see every request Wharf sends upstream (and count
 * them), and can make the upstream misbehave without touching it:
 * - `fail(429|503)`: every request answered with that status (429 with Retry-After) and a
 *   registry-style error body, as a rate-limiting or broken upstream would;
 * - `stop()`: the port refuses connections (open ones are cut), `start()` listens again on it;
 * - `corrupt(digest)`: the body of that blob arrives with bytes flipped, same length, so only the
 *   digest check can notice;
 * - `hold(digest, afterBytes)`: that blob's body stalls after `afterBytes` until released.
 *
 * The Host header is passed on unchanged, so a token upstream's realm names the tap and token
 * requests pass through it too.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

export interface TapRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  /** What the tap answered (its own status when failing, else the upstream's), 0 if cut. */
  status: number;
  authorization: boolean;
}

export interface Hold {
  /** Resolves once the first `afterBytes` have been passed on and the body stalls. */
  reached: Promise<void>;
  release(): void;
}

interface Held extends Hold {
  afterBytes: number;
  gate: Promise<void>;
  onReached(): void;
}

type Failure = { status: 429 | 503 | 500 | 502; retryAfter?: string };

export class UpstreamTap {
  readonly requests: TapRequest[] = [];
  private failure?: Failure;
  private readonly corrupted = new Set<string>();
  private readonly holds = new Map<string, Held>();
  private readonly sockets = new Set<Socket>();
  private server?: Server;

  private constructor(
    /** Where requests go: http://host:port of the real upstream. */
    readonly target: string,
    readonly port: number,
  ) {}

  static async start(target: string, port = 0): Promise<UpstreamTap> {
    const tap = new UpstreamTap(target.replace(/\/+$/, ''), port);
    await tap.start();
    return tap;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Listens (again) on the tap's port. */
  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    (this as { port: number }).port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Refuses connections from now on; connections in flight are cut. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  fail(status: Failure['status'], retryAfter?: string): void {
    this.failure = { status, retryAfter: retryAfter ?? (status === 429 ? '30' : undefined) };
  }

  corrupt(digest: string): void {
    this.corrupted.add(digest);
  }

  hold(digest: string, afterBytes: number): Hold {
    let reached!: () => void;
    let release!: () => void;
    const held: Held = {
      afterBytes,
      reached: new Promise<void>((r) => (reached = r)),
      gate: new Promise<void>((r) => (release = r)),
      onReached: () => reached(),
      release: () => release(),
    };
    this.holds.set(digest, held);
    return { reached: held.reached, release: held.release };
  }

  /** Back to passing everything through untouched (counts are kept). */
  heal(): void {
    this.failure = undefined;
    this.corrupted.clear();
    for (const held of this.holds.values()) held.release();
    this.holds.clear();
  }

  resetCounts(): void {
    this.requests.length = 0;
  }

  /** How many `method` requests had exactly this path (query ignored). */
  count(method: string, path: string): number {
    return this.requests.filter((r) => r.method === method && r.url.split('?')[0] === path).length;
  }

  /** Requests (any method) whose path (query ignored) ends with `suffix`, e.g. `/blobs/<digest>`. */
  matching(method: string, suffix: string): TapRequest[] {
    return this.requests.filter((r) => r.method === method && r.url.split('?')[0].endsWith(suffix));
  }

  /** Whether any request (GET or HEAD, any reference) asked for manifests of `repo` (upstream name). */
  askedManifests(repo: string): boolean {
    return this.requests.some((r) => r.url.startsWith(`/v2/${repo}/manifests/`));
  }

  /** `method path` -> count, for failure messages. */
  summary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.requests) {
      const k = `${r.method} ${r.url.split('?')[0]}`;
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const entry: TapRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      status: 0,
      authorization: !!req.headers.authorization,
    };
    this.requests.push(entry);
    if (this.failure) {
      const { status, retryAfter } = this.failure;
      entry.status = status;
      const code = status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE';
      const message = status === 429 ? 'tap: rate limit exceeded' : 'tap: service unavailable';
      const body = JSON.stringify({ errors: [{ code, message, detail: null }] });
      req.resume();
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        ...(retryAfter ? { 'Retry-After': retryAfter } : {}),
      });
      res.end(body);
      return;
    }
    const upstream = request(
      `${this.target}${entry.url}`,
      { method: entry.method, headers: req.headers },
      (up) => {
        entry.status = up.statusCode ?? 0;
        const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(entry.url.split('?')[0])?.[1];
        const blobBody = entry.method === 'GET' && up.statusCode === 200 && digest;
        res.writeHead(up.statusCode ?? 502, up.rawHeaders);
        let body: NodeJS.ReadableStream = up;
        if (blobBody && this.holds.has(digest)) {
          const { afterBytes, gate, onReached } = this.holds.get(digest)!;
          body = body.pipe(new Stall(afterBytes, gate, onReached));
        }
        if (blobBody && this.corrupted.has(digest)) body = body.pipe(new FlipBytes());
        body.pipe(res);
        up.on('error', () => res.destroy());
      },
    );
    // An upstream that is down: the caller sees a cut connection, as it would without the tap.
    upstream.on('error', () => {
      entry.status = 0;
      res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }
}

/** Inverts every byte of the first chunk after offset 0 (same length, different digest). */
class FlipBytes extends Transform {
  private done = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.done && chunk.length > 0) {
      this.done = true;
      const copy = Buffer.from(chunk);
      const at = Math.floor(copy.length / 2);
      copy[at] ^= 0xff;
      cb(null, copy);
      return;
    }
    cb(null, chunk);
  }
}

/** Passes `afterBytes` through, then waits for `gate` before passing the rest. */
class Stall extends Transform {
  private passed = 0;

  constructor(
    private readonly afterBytes: number,
    private readonly gate: Promise<void>,
    private readonly onReached: () => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const room = this.afterBytes - this.passed;
    if (room <= 0) {
      void this.gate.then(() => cb(null, chunk));
      return;
    }
    if (chunk.length <= room) {
      this.passed += chunk.length;
      if (this.passed === this.afterBytes) this.onReached();
      cb(null, chunk);
      return;
    }
    this.passed = this.afterBytes;
    this.push(chunk.subarray(0, room));
    this.onReached();
    void this.gate.then(() => cb(null, chunk.subarray(room)));
  }
}
