import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay in front of a server whose responses share one link of `bytesPerSecond`, like an
 * upstream registry across the internet: every connection's bytes towards the client draw from one
 * token bucket. Requests pass unthrottled (they are small).
 */
export class RateLimitedLink {
  private tokens = 0;
  private last = process.hrtime.bigint();
  private readonly waiting: { n: number; resolve: () => void }[] = [];
  private timer?: NodeJS.Timeout;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly bytesPerSecond: number,
  ) {}

  static async start(target: string, bytesPerSecond: number): Promise<RateLimitedLink> {
    const { hostname, port } = new URL(target);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no address');
    const link = new RateLimitedLink(server, `http://127.0.0.1:${address.port}`, bytesPerSecond);
    server.on('connection', (client) => link.relay(client, hostname, Number(port)));
    return link;
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket, host: string, port: number): void {
    const upstream = connect(port, host);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      upstream.pause();
      void this.take(chunk.length).then(() => {
        if (client.write(chunk)) upstream.resume();
        else client.once('drain', () => upstream.resume());
      });
    });
    upstream.on('end', () => client.end());
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', () => client.end());
  }

  /** Waits until `n` bytes fit the link's rate, in arrival order; bursts up to 64 KiB ahead. */
  private take(n: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push({ n, resolve });
      if (this.waiting.length === 1) this.drain();
    });
  }

  private drain(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = process.hrtime.bigint();
    this.tokens += (Number(now - this.last) / 1e9) * this.bytesPerSecond;
    this.last = now;
    while (this.waiting.length && this.tokens >= this.waiting[0].n) {
      const head = this.waiting.shift()!;
      this.tokens -= head.n;
      head.resolve();
    }
    // An idle link does not save up more than a burst.
    if (!this.waiting.length) this.tokens = Math.min(this.tokens, 64 * 1024);
    else this.timer = setTimeout(() => this.drain(), 1);
  }
}
