/**
 * The outbox and relay against a real Postgres (a fresh database per run): events queue per
 * endpoint exactly once even with two relays racing, a failing publisher or endpoint leaves
 * everything in place, pull batches are written only when flushed, and eventLag follows.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { RegistryEvent } from '@wharf/contracts';
import { openMetadataDataSource } from '../metadata.module';
import { EventOutbox } from './outbox';
import { eventLag } from '../store';
import { EventRelay, type WebhookTarget } from './relay';

const pgEnv = {
  ...process.env,
  PGHOST: process.env.PGHOST ?? '127.0.0.1',
  PGUSER: process.env.PGUSER ?? 'postgres',
};
const dbName = `wharf_events_${randomBytes(6).toString('hex')}`;
const source = { addr: 'test:5000', instanceID: '00000000-0000-4000-8000-000000000000' };

describe('event outbox and relay', () => {
  let ds: DataSource;
  let server: Server;
  let status = 200;
  const received: RegistryEvent[] = [];
  let hook: WebhookTarget;

  beforeAll(async () => {
    execFileSync('createdb', [dbName], { env: pgEnv });
    ds = await openMetadataDataSource({
      databaseUrl: `postgres://${pgEnv.PGUSER}@${pgEnv.PGHOST}:5432/${dbName}`,
      poolSize: 6,
      timeoutMs: 10_000,
    });
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (status < 300) received.push(...(JSON.parse(body) as { events: RegistryEvent[] }).events);
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    hook = { name: 'hook', url, headers: {}, timeoutMs: 2000, backoffMs: 10, maxBackoffMs: 10 };
  });

  afterAll(async () => {
    await ds?.destroy();
    await new Promise((r) => server?.close(r));
    execFileSync('dropdb', ['--force', '--if-exists', dbName], { env: pgEnv });
  });

  beforeEach(async () => {
    await ds.query('DELETE FROM metadata.event_outbox');
    received.length = 0;
    status = 200;
  });

  const outbox = (pull = true) => new EventOutbox(ds, { source, pull, pullFlushMs: 60_000 });
  const pushes = (o: EventOutbox, n: number): RegistryEvent[] =>
    Array.from({ length: n }, (_, i) =>
      o.event('push', { repository: 'r', digest: `sha256:${i}` }, undefined),
    );

  it('queues each event once per endpoint with two relays racing, and delivers it in order', async () => {
    const o = outbox();
    const events = pushes(o, 50);
    await ds.transaction((em) => o.record(em, events));
    expect(await eventLag(ds)).toMatchObject({ undelivered: 50 });
    const relays = [new EventRelay(ds, { webhooks: [hook] }), new EventRelay(ds, { webhooks: [hook] })];
    let moved = 0;
    for (;;) {
      const n = await Promise.all(relays.map((r) => r.relayOnce()));
      if (!n[0] && !n[1]) break;
      moved += n[0] + n[1];
    }
    expect(moved).toBe(50);
    expect(await ds.query('SELECT count(*)::int AS n FROM metadata.event_deliveries')).toEqual([{ n: 50 }]);
    while ((await relays[0].deliverOnce(hook)) === 'more');
    expect(received.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(await eventLag(ds)).toEqual({ undelivered: 0, oldestAgeSeconds: 0 });
  });

  it('keeps an event an endpoint refused, and sends it again with the same id', async () => {
    const o = outbox();
    const [event] = pushes(o, 1);
    await o.record(ds, [event]);
    const relay = new EventRelay(ds, { webhooks: [hook] });
    await relay.relayOnce();
    status = 503;
    expect(await relay.deliverOnce(hook)).toBe('failed');
    expect(await eventLag(ds)).toMatchObject({ undelivered: 1 });
    status = 200;
    expect(await relay.deliverOnce(hook)).toBe('idle');
    expect(received.map((e) => e.id)).toEqual([event.id]);
    expect((await eventLag(ds)).undelivered).toBe(0);
  });

  it('drops at start the deliveries queued for endpoints no longer configured, saying how many', async () => {
    const o = outbox();
    await o.record(ds, pushes(o, 3));
    const gone = (name: string): WebhookTarget => ({ ...hook, name, url: 'http://127.0.0.1:9/' });
    await new EventRelay(ds, { webhooks: [hook, gone('audit'), gone('ci')] }).relayOnce();
    expect(await ds.query('SELECT count(*)::int AS n FROM metadata.event_deliveries')).toEqual([{ n: 9 }]);
    const warned: string[] = [];
    const spy = jest
      .spyOn(Logger.prototype, 'warn')
      .mockImplementation((...args: unknown[]) => void warned.push(String(args[0])));
    try {
      const relay = new EventRelay(ds, { webhooks: [hook], pollMs: 10 });
      relay.start();
      // Delivered means answered 2xx and then deleted: wait for the delete, not just the receipt.
      const queued = async () =>
        ((await ds.query('SELECT count(*)::int AS n FROM metadata.event_deliveries')) as { n: number }[])[0]
          .n;
      for (let i = 0; i < 200 && !(warned.length && received.length === 3 && (await queued()) === 0); i++)
        await new Promise((r) => setTimeout(r, 20));
      await relay.stop();
      expect(await relay.dropUnconfigured()).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(warned).toEqual(['dropped 6 queued deliveries for endpoints no longer configured: audit, ci']);
    // The endpoint still configured got its events; nothing is left for the others.
    expect(received).toHaveLength(3);
    expect(await ds.query('SELECT count(*)::int AS n FROM metadata.event_deliveries')).toEqual([{ n: 0 }]);
  });

  it('drops every queue when no endpoint is configured any more', async () => {
    const o = outbox();
    await o.record(ds, pushes(o, 2));
    await new EventRelay(ds, { webhooks: [hook] }).relayOnce();
    const spy = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      expect(await new EventRelay(ds, { webhooks: [] }).dropUnconfigured()).toBe(2);
      expect(spy).toHaveBeenCalledWith(
        'dropped 2 queued deliveries for endpoints no longer configured: hook',
      );
    } finally {
      spy.mockRestore();
    }
    expect((await eventLag(ds)).undelivered).toBe(0);
  });

  it('a rolled-back change leaves no event', async () => {
    const o = outbox();
    await expect(
      ds.transaction(async (em) => {
        await o.record(em, pushes(o, 2));
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect((await eventLag(ds)).undelivered).toBe(0);
  });

  it('a failing publisher leaves the rows unpublished; the next attempt publishes each once', async () => {
    const o = outbox();
    const events = pushes(o, 3);
    await o.record(ds, events);
    const broken = new EventRelay(
      ds,
      { webhooks: [hook] },
      { publish: () => Promise.reject(new Error('no JetStream')) },
    );
    await expect(broken.relayOnce()).rejects.toThrow('no JetStream');
    expect(await ds.query('SELECT count(*)::int AS n FROM metadata.event_deliveries')).toEqual([{ n: 0 }]);
    const published: string[] = [];
    const relay = new EventRelay(
      ds,
      { webhooks: [hook] },
      { publish: async (e) => void published.push(e.id) },
    );
    expect(await relay.relayOnce()).toBe(3);
    expect(await relay.relayOnce()).toBe(0);
    expect(published).toEqual(events.map((e) => e.id));
  });

  it('pull events are written as one batch when flushed, and not at all when pulls are off', async () => {
    const o = outbox();
    for (let i = 0; i < 3; i++) o.pull({ repository: 'r', digest: `sha256:${i}` }, ctx());
    expect((await eventLag(ds)).undelivered).toBe(0);
    await o.flush();
    const rows: { action: string; event: RegistryEvent }[] = await ds.query(
      'SELECT action, event FROM metadata.event_outbox ORDER BY seq',
    );
    expect(rows.map((r) => [r.action, r.event.target.digest, r.event.request])).toEqual(
      [0, 1, 2].map((i) => ['pull', `sha256:${i}`, ctx().request]),
    );
    const off = outbox(false);
    off.pull({ repository: 'r', digest: 'sha256:x' }, ctx());
    await off.flush();
    expect((await eventLag(ds)).undelivered).toBe(3);
  });
});

function ctx() {
  return {
    baseUrl: 'http://registry',
    request: { id: 'req-1', addr: '10.0.0.1:1234', host: 'registry', method: 'GET', useragent: 'test' },
  };
}
