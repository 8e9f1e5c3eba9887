/**
 * A TCP proxy between one service and NATS that a test can cut, to check what that service does
 * when it cannot hear the rest of the cluster.
 *
 * - `sever()`: every connection through the proxy is destroyed at once, and each reconnect is
 *   destroyed as soon as it is accepted. The client sees a disconnect.
 * - `blackhole()`: connections stay open and new ones are accepted, but nothing gets through either
 *   way. The client notices nothing until its own pings go unanswered. By default the bytes are
 *   held and delivered in order by `restore()`, which is what TCP does when a partition heals before
 *   it gives up: replies that arrive too late, invalidations delivered after their write answered.
 *   With `{ drop: true }` they are lost instead; `restore()` then destroys those connections, since
 *   no TCP stream goes on with a gap in it.
 * - `restore()`: everything passes again.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type NatsProxyState = 'open' | 'severed' | 'blackholed';

interface Link {
  client: Socket;
  /** Absent while a connection made during a blackhole waits for its upstream. */
  upstream?: Socket;
  blocked: boolean;
  /** Bytes held during a blackhole, in arrival order, with the side they are for. */
  held: { toClient: boolean; chunk: Buffer }[];
  /** A side closed (or bytes were dropped) while blocked: the link ends at restore(). */
  broken: boolean;
}

export class NatsProxy {
  private mode: NatsProxyState = 'open';
  private drop = false;
  private readonly links = new Set<Link>();

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  /** `target`: a NATS URL (`nats://host:port`). */
  static async start(target: string): Promise<NatsProxy> {
    const u = new URL(target);
    const holder: { proxy?: NatsProxy } = {};
    const server = createServer((client) => holder.proxy!.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    holder.proxy = new NatsProxy(server, { host: u.hostname, port: Number(u.port || 4222) }, port);
    return holder.proxy;
  }

  /** What the proxied service should use as WHARF_NATS_URL. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get state(): NatsProxyState {
    return this.mode;
  }

  /** Client connections open through the proxy now. */
  get connections(): number {
    return this.links.size;
  }

  sever(): void {
    this.mode = 'severed';
    for (const link of [...this.links]) this.end(link);
  }

  blackhole(opts: { drop?: boolean } = {}): void {
    this.mode = 'blackholed';
    this.drop = opts.drop ?? false;
    for (const link of this.links) link.blocked = true;
  }

  restore(): void {
    this.mode = 'open';
    for (const link of [...this.links]) {
      if (!link.blocked) continue;
      link.blocked = false;
      if (this.drop) {
        this.end(link);
        continue;
      }
      if (!link.upstream && !link.broken) link.upstream = this.dial(link);
      for (const { toClient, chunk } of link.held.splice(0)) {
        const to = toClient ? link.client : link.upstream;
        if (to && !to.destroyed) to.write(chunk);
      }
      // A side that closed during the blackhole: the other gets what was held, then the close.
      if (link.broken) {
        this.links.delete(link);
        link.client.end();
        link.upstream?.end();
      }
    }
  }

  async close(): Promise<void> {
    for (const link of [...this.links]) this.end(link);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.mode === 'severed') return void client.destroy();
    const link: Link = { client, blocked: this.mode === 'blackholed', held: [], broken: false };
    this.links.add(link);
    // A connection made during a blackhole reaches nobody until restore(), as a SYN would not.
    if (!link.blocked) link.upstream = this.dial(link);
    client.on('data', (chunk: Buffer) => this.forward(link, chunk, false));
    client.on('error', () => this.sideClosed(link));
    client.on('close', () => this.sideClosed(link));
  }

  private dial(link: Link): Socket {
    const upstream = connect(this.target);
    upstream.on('data', (chunk: Buffer) => this.forward(link, chunk, true));
    upstream.on('error', () => this.sideClosed(link));
    upstream.on('close', () => this.sideClosed(link));
    return upstream;
  }

  private forward(link: Link, chunk: Buffer, toClient: boolean): void {
    if (link.blocked) {
      if (this.drop) link.broken = true;
      else link.held.push({ toClient, chunk });
      return;
    }
    const to = toClient ? link.client : link.upstream;
    to?.write(chunk);
  }

  private sideClosed(link: Link): void {
    if (!this.links.has(link)) return;
    // The other side hears of it when the blackhole lifts, like any other segment.
    if (link.blocked) link.broken = true;
    else this.end(link);
  }

  private end(link: Link): void {
    this.links.delete(link);
    link.client.destroy();
    link.upstream?.destroy();
  }
}
