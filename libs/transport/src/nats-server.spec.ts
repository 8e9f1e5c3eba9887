import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { InFlight } from './inflight';
import { DrainingNatsServer } from './nats-server';

const NATS_URL = process.env.WHARF_E2E_NATS_URL ?? 'nats://127.0.0.1:4222';

/**
 * A request in Nest's wire format, answered with the handler's value (or an error) as JSON. A server
 * that has just subscribed on its own connection may not be known to NATS yet: "no responders" (503)
 * is retried for a second before it counts.
 */
async function ask(nc: NatsConnection, subject: string, data: unknown, timeout = 5000): Promise<unknown> {
  const payload = JSON.stringify({ pattern: subject, data, id: randomUUID() });
  for (let attempt = 0; ; attempt++) {
    try {
      const msg = await nc.request(subject, payload, { timeout });
      return (JSON.parse(new TextDecoder().decode(msg.data)) as { response?: unknown }).response;
    } catch (e) {
      if ((e as { code?: string }).code !== '503' || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!condition()) throw new Error('timed out');
}

// The default 5 s is too tight for a busy machine: each test waits on NATS round trips.
jest.setTimeout(20_000);

describe('DrainingNatsServer', () => {
  let nc: NatsConnection;
  const subject = `wharf-spec.${randomUUID()}.op`;

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
  });

  afterAll(async () => {
    await nc?.close();
  });

  /** A server whose handler answers only once `release` is called. */
  async function slowServer(queue: string) {
    const inflight = new InFlight();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const server = new DrainingNatsServer({ servers: NATS_URL, queue }, inflight, 5000);
    server.addHandler(subject, (data: unknown) =>
      inflight.track(async () => {
        await released;
        return { echo: data };
      }),
    );
    await new Promise<void>((resolve, reject) => server.listen((e) => (e ? reject(e) : resolve())));
    return { server, inflight, release };
  }

  it('close() answers the request in flight, then takes no more', async () => {
    const { server, inflight, release } = await slowServer(`q-${randomUUID()}`);
    const answer = ask(nc, subject, 'in flight');
    await until(() => inflight.size === 1);
    const closed = server.close();
    // The subscription is drained before the handler settles: nothing new reaches this replica.
    await new Promise((r) => setTimeout(r, 100));
    release();
    expect(await answer).toEqual({ echo: 'in flight' });
    await closed;
    await expect(ask(nc, subject, 'after', 500)).rejects.toThrow();
  });

  it('while one replica drains, the other replica of its queue group takes the new requests', async () => {
    const queue = `q-${randomUUID()}`;
    const draining = await slowServer(queue);
    const other = await slowServer(queue);
    other.release();
    try {
      // Queue groups spread requests at random: hold one on the replica that will drain.
      const held: Promise<unknown>[] = [];
      while (draining.inflight.size === 0) {
        held.push(ask(nc, subject, held.length));
        await new Promise((r) => setTimeout(r, 20));
      }
      const closed = draining.server.close();
      await new Promise((r) => setTimeout(r, 100));
      const later = await Promise.all([1, 2, 3].map((i) => ask(nc, subject, `later ${i}`)));
      expect(later).toEqual([1, 2, 3].map((i) => ({ echo: `later ${i}` })));
      draining.release();
      expect(await Promise.all(held)).toEqual(held.map((_, i) => ({ echo: i })));
      await closed;
    } finally {
      await other.server.close();
    }
  });
});
