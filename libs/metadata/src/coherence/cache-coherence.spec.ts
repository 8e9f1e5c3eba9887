/**
 * The coherence protocol of ADR 24 against the machine's Postgres and NATS: holders that
 * acknowledge cost a writer one round trip; one that does not is revoked, the writer waits out its
 * lease, and the holder flushes before it answers again; a change whose writer died is delivered
 * by the sweep.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import type { DataSource } from 'typeorm';
import { tagChanged, type CacheChange } from '@wharf/contracts';
import { CacheLease, listenForInvalidations, publishInvalidation } from '@wharf/transport';
import { openMetadataDataSource } from '../metadata.module';
import { recordCacheChanges, renewCacheHolder } from '../store';
import { HolderCoherence } from './cache-coherence';

const pgEnv = {
  ...process.env,
  PGHOST: process.env.PGHOST ?? '127.0.0.1',
  PGUSER: process.env.PGUSER ?? 'postgres',
};
const dbName = `wharf_coherence_${randomBytes(6).toString('hex')}`;
const prefix = `coh_${randomBytes(4).toString('hex')}`;
const LEASE = { leaseMs: 1500, renewEveryMs: 300 };

interface Holder {
  lease: CacheLease;
  seen: CacheChange[][];
  flushes: number;
  nc: NatsConnection;
}

describe('cache coherence (Postgres + NATS)', () => {
  let ds: DataSource;
  let writerNats: NatsConnection;
  const holders: Holder[] = [];

  const holder = async (): Promise<Holder> => {
    const nc = await connect({ servers: process.env.WHARF_E2E_NATS_URL ?? 'nats://127.0.0.1:4222' });
    const h: Holder = { seen: [], flushes: 0, nc, lease: undefined as unknown as CacheLease };
    h.lease = new CacheLease(
      async (id, ms) => ({ lost: await renewCacheHolder(ds, id, ms) }),
      () => h.flushes++,
      LEASE,
    );
    listenForInvalidations(nc, prefix, h.lease, (changes) => h.seen.push(changes));
    await nc.flush();
    await h.lease.renewOnce();
    holders.push(h);
    return h;
  };

  const coherence = (notify = true) =>
    new HolderCoherence(ds, {
      notify: notify
        ? (changes, waitFor) => publishInvalidation(writerNats, prefix, changes, waitFor, 300)
        : undefined,
      strandedAfterMs: 0,
      sweepEveryMs: 0,
    });

  beforeAll(async () => {
    execFileSync('createdb', [dbName], { env: pgEnv });
    ds = await openMetadataDataSource({
      databaseUrl: `postgres://${pgEnv.PGUSER}@${pgEnv.PGHOST}:5432/${dbName}`,
      poolSize: 4,
      timeoutMs: 10_000,
    });
    writerNats = await connect({ servers: process.env.WHARF_E2E_NATS_URL ?? 'nats://127.0.0.1:4222' });
  });

  afterAll(async () => {
    for (const h of holders) {
      h.lease.stop();
      await h.nc.close();
    }
    await writerNats?.close();
    await ds?.destroy();
    execFileSync('dropdb', ['--force', '--if-exists', dbName], { env: pgEnv });
  });

  beforeEach(async () => {
    for (const h of holders.splice(0)) {
      h.lease.stop();
      await h.nc.close();
    }
    await ds.query('DELETE FROM metadata.cache_holders; DELETE FROM metadata.cache_changes');
  });

  it('a holder renewing in time keeps its cache: only its first renewal (and none after) says lost', async () => {
    expect(await renewCacheHolder(ds, 'steady', LEASE.leaseMs)).toBe(true);
    for (let i = 0; i < 3; i++) expect(await renewCacheHolder(ds, 'steady', LEASE.leaseMs)).toBe(false);
    const h = await holder();
    for (let i = 0; i < 3; i++) await h.lease.renewOnce();
    expect(h.flushes).toBe(1);
  });

  it('a write returns once every live holder has applied its change, with no lease to wait out', async () => {
    const [a, b] = [await holder(), await holder()];
    const started = Date.now();
    await coherence().settle([tagChanged('r', 't')]);
    expect(Date.now() - started).toBeLessThan(LEASE.leaseMs / 2);
    expect(a.seen).toEqual([[{ repository: 'r', tag: 't' }]]);
    expect(b.seen).toEqual([[{ repository: 'r', tag: 't' }]]);
    expect(a.flushes + b.flushes).toBe(2); // the first renewal of each, nothing since
  });

  it('a holder that does not acknowledge is revoked: the write waits out its lease, the holder flushes', async () => {
    const deaf = await holder();
    // Cut off from invalidations without knowing it (a blackholed connection).
    await deaf.nc.close();
    const lease = deaf.lease;
    lease.drop = () => undefined;
    const started = Date.now();
    await coherence().settle([tagChanged('r', 't')]);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(LEASE.leaseMs * 0.5);
    // By then the holder's own view of its lease has run out…
    expect(lease.usable()).toBe(false);
    // …and its next renewal tells it to flush before it answers again.
    const before = deaf.flushes;
    await lease.renewOnce();
    expect(deaf.flushes).toBe(before + 1);
    expect(lease.usable()).toBe(true);
  });

  it('without a way to notify (the admin CLI), writers revoke every live holder', async () => {
    const h = await holder();
    await coherence(false).settle([tagChanged('r', 't')]);
    expect(h.seen).toEqual([]);
    expect(h.lease.usable()).toBe(false);
    expect(await renewCacheHolder(ds, h.lease.holder, LEASE.leaseMs)).toBe(true);
  });

  it('a holder whose lease ran out is not waited for, and flushes on its next renewal', async () => {
    const h = await holder();
    await h.nc.close();
    await new Promise((r) => setTimeout(r, LEASE.leaseMs + 100));
    const started = Date.now();
    await coherence().settle([tagChanged('r', 't')]);
    expect(Date.now() - started).toBeLessThan(LEASE.leaseMs / 2);
    expect(await renewCacheHolder(ds, h.lease.holder, LEASE.leaseMs)).toBe(true);
  });

  it('the sweep delivers a change whose writer died after its commit', async () => {
    const h = await holder();
    await recordCacheChanges(ds, [tagChanged('r', 'stranded')]);
    expect(await coherence().sweep()).toBe(1);
    expect(h.seen).toEqual([[{ repository: 'r', tag: 'stranded' }]]);
    expect(await ds.query('SELECT count(*)::int AS n FROM metadata.cache_changes')).toEqual([{ n: 0 }]);
  });
});
