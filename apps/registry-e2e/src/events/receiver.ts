import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RegistryEvent } from '@wharf/contracts';

export interface ReceivedRequest {
  contentType?: string;
  headers: IncomingMessage['headers'];
  raw: string;
  events: RegistryEvent[];
}

/**
 * A local webhook endpoint. `mode` says how it answers: `ok` (200), `fail` (503), or `hang`
 * (reads the request and never answers, like an endpoint stuck mid-delivery). `stop()` closes the
 * port, so the registry sees connection refused; `start()` opens the same port again.
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  private server?: Server;
  private port = 0;
  private hanging = new Set<ServerResponse>();

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Every event received (with duplicates), in arrival order; `hang` requests included. */
  get events(): RegistryEvent[] {
    return this.requests.flatMap((r) => r.events);
  }

  /** Events the receiver answered 2xx to, deduplicated by id. */
  acknowledged = new Map<string, RegistryEvent>();

  async start(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let events: RegistryEvent[] = [];
      try {
        events = (JSON.parse(raw) as { events: RegistryEvent[] }).events;
      } catch {
        // recorded with no events; the test's field checks will fail on it
      }
      this.requests.push({ contentType: req.headers['content-type'], headers: req.headers, raw, events });
      if (this.mode === 'hang') {
        this.hanging.add(res);
        return;
      }
      if (this.mode === 'fail') {
        res.writeHead(503).end();
        return;
      }
      for (const e of events) this.acknowledged.set(e.id, e);
      res.writeHead(200).end();
    });
  }

  /** Waits until `check` holds on the acknowledged events. */
  async waitFor(check: (acked: RegistryEvent[]) => boolean, timeoutMs = 30_000): Promise<RegistryEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const acked = [...this.acknowledged.values()];
      if (check(acked)) return acked;
      if (Date.now() > deadline)
        throw new Error(`timed out; acknowledged: ${JSON.stringify(acked.map(brief), null, 1)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export function brief(e: RegistryEvent): string {
  const t = e.target;
  return `${e.action} ${t.repository} ${t.tag ?? ''} ${t.digest ?? ''} ${t.mediaType ?? ''}`.trim();
}

/** Events matching action, repository and (when given) digest or tag. */
export function matching(
  events: RegistryEvent[],
  action: RegistryEvent['action'],
  repository: string,
  key: { digest?: string; tag?: string } = {},
): RegistryEvent[] {
  return events.filter(
    (e) =>
      e.action === action &&
      e.target.repository === repository &&
      (key.digest === undefined || e.target.digest === key.digest) &&
      (key.tag === undefined || e.target.tag === key.tag),
  );
}
