import { createServer, connect, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fanOutAccept } from './accept-fanout';

const listen = (server: Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );

/**
 * Opens `count` connections while the event loop is held, then counts how many the server accepted
 * in each following loop iteration (a setImmediate chain numbers the iterations).
 */
async function acceptsPerIteration(server: Server, port: number, count: number): Promise<number[]> {
  let iteration = 0;
  const seen: number[] = [];
  server.on('connection', () => seen.push(iteration));
  const clients: Socket[] = [];
  for (let i = 0; i < count; i++) clients.push(connect(port, '127.0.0.1').on('error', () => undefined));
  // The connects are issued on the next tick; the kernel completes them without the server, so all
  // of them wait in the accept queue when the server next polls.
  await new Promise((resolve) => process.nextTick(resolve));
  let running = true;
  const tick = () => {
    iteration++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  while (seen.length < count) await new Promise((resolve) => setTimeout(resolve, 5));
  running = false;
  for (const c of clients) c.destroy();
  const perIteration = new Map<number, number>();
  for (const i of seen) perIteration.set(i, (perIteration.get(i) ?? 0) + 1);
  return [...perIteration.values()];
}

describe('fanOutAccept', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it('accepts several queued connections in one loop iteration (one without it)', async () => {
    const plain = createServer((s) => s.destroy());
    servers.push(plain);
    const plainCounts = await acceptsPerIteration(plain, await listen(plain), 24);
    expect(Math.max(...plainCounts)).toBe(1);

    const server = createServer((s) => s.destroy());
    servers.push(server);
    const port = await listen(server);
    const fanOut = await fanOutAccept(server, 8);
    expect(fanOut.descriptors).toBe(8);
    const counts = await acceptsPerIteration(server, port, 24);
    fanOut.close();
    expect(Math.max(...counts)).toBeGreaterThanOrEqual(4);
  });

  it('hands accepted sockets to the HTTP server, and stops accepting once closed', async () => {
    const server = createHttpServer((_req, res) => res.end('ok'));
    servers.push(server);
    const port = await listen(server);
    const fanOut = await fanOutAccept(server, 4);
    const bodies = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<string>((resolve, reject) =>
            get({ port, host: '127.0.0.1', agent: false }, (res) => {
              let body = '';
              res.on('data', (b: Buffer) => (body += b.toString()));
              res.on('end', () => resolve(body));
            }).on('error', reject),
          ),
      ),
    );
    expect(bodies).toEqual(Array(20).fill('ok'));

    fanOut.close();
    await new Promise((r) => server.close(r));
    servers.splice(0);
    const refused = await new Promise<string>((resolve) =>
      connect(port, '127.0.0.1')
        .on('connect', function (this: Socket) {
          this.destroy();
          resolve('connected');
        })
        .on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error')),
    );
    expect(refused).toBe('ECONNREFUSED');
  });

  it('leaves a server that is not listening as it is', async () => {
    const server = createServer();
    const fanOut = await fanOutAccept(server, 8);
    expect(fanOut.descriptors).toBe(1);
  });
});
