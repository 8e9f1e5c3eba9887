/**
 * The retention pass against a real Postgres (a fresh database per run): which tags each keep-rule
 * holds (keepLatest with ties in push time, keepTags, keepNewerThan, keepPulledWithin, several
 * rules, immutable tags), the dry run listing exactly what the run deletes, the deletes recorded for
 * caches and events, one pass at a time across replicas, and tag pull times batched in memory.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { CacheChange, EventAction, EventTarget, RegistryEvent } from '@wharf/contracts';
import type { CacheCoherence } from '../coherence/cache-coherence';
import { NO_EVENTS, type EventRecorder } from '../events/outbox';
import { GC_DEFAULTS } from '../gc/gc-options';
import { openMetadataDataSource } from '../metadata.module';
import { deleteTagIfUnchanged, ensureRepositoryId, retentionTags } from '../store';
import { RetentionPass } from './retention';
import { RetentionWorker } from './retention-worker';
import { parseRules, type Rules } from './rules-file';
import { TagPulls } from './tag-pulls';

const pgEnv = {
  ...process.env,
  PGHOST: process.env.PGHOST ?? '127.0.0.1',
  PGUSER: process.env.PGUSER ?? 'postgres',
};
const dbName = `wharf_retention_${randomBytes(6).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rules = (yaml: string): Rules => parseRules(yaml, 'rules.yaml');

/** Records what the pass hands to the caches and the outbox. */
class Recorder implements CacheCoherence {
  settled: CacheChange[] = [];
  async record(): Promise<string> {
    return '0';
  }
  async settle(changes: CacheChange[]): Promise<void> {
    this.settled.push(...changes);
  }
}
class Events implements EventRecorder {
  readonly enabled = true;
  recorded: RegistryEvent[] = [];
  event(action: EventAction, target: EventTarget): RegistryEvent {
    return NO_EVENTS.event(action, target, undefined);
  }
  async record(_tx: unknown, events: RegistryEvent[]): Promise<void> {
    this.recorded.push(...events);
  }
  pull(): void {}
  async flush(): Promise<void> {}
}

describe('retention (Postgres)', () => {
  let ds: DataSource;

  beforeAll(async () => {
    execFileSync('createdb', [dbName], { env: pgEnv });
    ds = await openMetadataDataSource({
      databaseUrl: `postgres://${pgEnv.PGUSER}@${pgEnv.PGHOST}:5432/${dbName}`,
      poolSize: 6,
      timeoutMs: 10_000,
    });
  });

  afterAll(async () => {
    await ds?.destroy();
    execFileSync('dropdb', ['--force', '--if-exists', dbName], { env: pgEnv });
  });

  beforeEach(async () => {
    await ds.query('DELETE FROM metadata.repositories');
  });

  /** A tag pushed `pushedAgo` before a fixed instant (so that ties are exact), maybe pulled. */
  const T0 = `now() - interval '1 second'`;
  const tag = async (repository: string, name: string, pushedAgo: string, pulledAgo?: string) => {
    const id = await ensureRepositoryId(ds, repository);
    const digest = `sha256:${randomBytes(32).toString('hex')}`;
    await ds.query(
      `INSERT INTO metadata.manifests (repository_id, digest, media_type, size, body)
       VALUES ($1, $2, 'application/vnd.oci.image.manifest.v1+json', 2, '\\x7b7d')`,
      [id, digest],
    );
    await ds.query(
      `INSERT INTO metadata.tags (repository_id, name, manifest_digest, updated_at, pulled_at)
       VALUES ($1, $2, $3, date_trunc('second', ${T0}) - $4::interval,
               date_trunc('second', ${T0}) - $5::interval)`,
      [id, name, digest, pushedAgo, pulledAgo ?? null],
    );
  };
  const tagsOf = async (repository: string): Promise<string[]> =>
    (
      (await ds.query(
        `SELECT t.name FROM metadata.tags t JOIN metadata.repositories r ON r.id = t.repository_id
         WHERE r.name = $1 ORDER BY t.name`,
        [repository],
      )) as { name: string }[]
    ).map((r) => r.name);
  const pass = (coherence: CacheCoherence = new Recorder(), events: EventRecorder = NO_EVENTS) =>
    new RetentionPass(ds, coherence, events, 60_000);
  const chosen = async (r: Rules): Promise<string[]> =>
    (await pass().run(r, { dryRun: true })).deleted.map((t) => `${t.repository}:${t.tag}`);

  it('keepLatest keeps the N last pushed; ties in push time go by tag name; the dry run lists exactly what the run deletes', async () => {
    await tag('ci/app', 'old', '3 hours');
    for (const name of ['c', 'a', 'b']) await tag('ci/app', name, '1 hour'); // the same instant
    await tag('ci/app', 'new', '1 minute');
    const r = rules(`retention:\n  - repositories: ['ci/**']\n    keepLatest: 3\n`);

    const dry = await pass().run(r, { dryRun: true });
    expect(dry.deleted.map((t) => t.tag)).toEqual(['c', 'old']);
    expect(dry).toMatchObject({ dryRun: true, repositories: 1, tags: 5, skipped: 0 });
    expect(await tagsOf('ci/app')).toEqual(['a', 'b', 'c', 'new', 'old']); // nothing changed

    const coherence = new Recorder();
    const events = new Events();
    const run = await pass(coherence, events).run(r);
    expect(run.deleted).toEqual(dry.deleted);
    expect(await tagsOf('ci/app')).toEqual(['a', 'b', 'new']);
    // As a DELETE of the tag: every cache drops it, a delete event each, the manifest left to the GC.
    expect(coherence.settled).toEqual([
      { repository: 'ci/app', tag: 'c' },
      { repository: 'ci/app', tag: 'old' },
    ]);
    expect(events.recorded.map((e) => [e.action, e.target])).toEqual([
      ['delete', { repository: 'ci/app', tag: 'c' }],
      ['delete', { repository: 'ci/app', tag: 'old' }],
    ]);
    const reviews = (await ds.query(
      `SELECT count(*)::int AS n FROM metadata.gc_manifest_reviews WHERE digest = ANY($1)`,
      [run.deleted.map((t) => t.digest)],
    )) as { n: number }[];
    expect(reviews[0].n).toBe(2);
    expect((await pass().run(r)).deleted).toEqual([]);
  });

  it('keepTags holds its globs whatever their age', async () => {
    for (const name of ['main', 'v1', 'v2.0', 'feature-x', 'x-v1']) await tag('ci/lib', name, '30 days');
    const r = rules(`retention:\n  - repositories: ['ci/**']\n    keepTags: ['main', 'v*']\n`);
    expect(await chosen(r)).toEqual(['ci/lib:feature-x', 'ci/lib:x-v1']);
  });

  it('keepNewerThan holds tags pushed within the window, counting from when the tag was last set', async () => {
    await tag('ci/web', 'fresh', '10 minutes');
    await tag('ci/web', 'stale', '2 hours');
    const r = rules(`retention:\n  - repositories: ['ci/web']\n    keepNewerThan: 1h\n`);
    expect(await chosen(r)).toEqual(['ci/web:stale']);
    // Setting the tag again makes it fresh, whatever its manifest's age.
    await ds.query(`UPDATE metadata.tags SET updated_at = now() WHERE name = 'stale'`);
    expect(await chosen(r)).toEqual([]);
  });

  it('keepPulledWithin holds tags pulled within the window; a tag never pulled counts as pulled when pushed', async () => {
    await tag('hub/library/alpine', 'never-new', '10 minutes');
    await tag('hub/library/alpine', 'never-old', '2 hours');
    await tag('hub/library/alpine', 'pulled-recently', '5 hours', '5 minutes');
    await tag('hub/library/alpine', 'pulled-long-ago', '5 hours', '3 hours');
    // Pushed again after its last pull: the push counts.
    await tag('hub/library/alpine', 'repushed', '10 minutes', '3 hours');
    const r = rules(`retention:\n  - repositories: ['hub/**']\n    keepPulledWithin: 1h\n`);
    expect(await chosen(r)).toEqual(['hub/library/alpine:never-old', 'hub/library/alpine:pulled-long-ago']);
  });

  it('a tag any matching rule keeps stays; repositories no rule matches are left alone', async () => {
    for (const [name, ago] of [
      ['n1', '1 minute'],
      ['n2', '2 minutes'],
      ['keep-me', '9 hours'],
      ['main', '9 hours'],
      ['other', '9 hours'],
    ])
      await tag('ci/app', name, ago);
    await tag('ci/other', 'lonely', '9 hours');
    await tag('prod/app', 'ancient', '900 hours');
    const r = rules(
      [
        'retention:',
        "  - repositories: ['ci/**']",
        '    keepLatest: 1',
        "  - repositories: ['ci/app']",
        "    keepTags: ['keep-*', 'main']",
        '    keepNewerThan: 5m',
      ].join('\n'),
    );
    expect(await chosen(r)).toEqual(['ci/app:other']);
    await pass().run(r);
    expect(await tagsOf('ci/app')).toEqual(['keep-me', 'main', 'n1', 'n2']);
    expect(await tagsOf('ci/other')).toEqual(['lonely']); // its own latest
    expect(await tagsOf('prod/app')).toEqual(['ancient']);
  });

  it('never deletes a tag an immutable rule holds', async () => {
    for (const name of ['v1.0', 'v1.1', 'rc1']) await tag('release/app', name, '100 hours');
    const r = rules(
      [
        'immutable:',
        "  - repositories: ['release/**']",
        "    tags: ['v*']",
        'retention:',
        "  - repositories: ['release/**']",
        '    keepLatest: 0',
      ].join('\n'),
    );
    expect(await chosen(r)).toEqual(['release/app:rc1']);
    await pass().run(r);
    expect(await tagsOf('release/app')).toEqual(['v1.0', 'v1.1']);
  });

  it('a tag set again after it was chosen stays', async () => {
    await tag('ci/app', 'moving', '3 hours');
    const id = await ensureRepositoryId(ds, 'ci/app');
    const [t] = await retentionTags(ds, id);
    await ds.query(`UPDATE metadata.tags SET updated_at = now() WHERE name = 'moving'`);
    expect(await deleteTagIfUnchanged(ds, id, t, 1000)).toBe(false);
    expect(await tagsOf('ci/app')).toEqual(['moving']);
    const [again] = await retentionTags(ds, id);
    expect(await deleteTagIfUnchanged(ds, id, again, 1000)).toBe(true);
  });

  it('the interval pass runs on one replica at a time (advisory lock, tried and skipped)', async () => {
    await tag('ci/app', 'gone', '3 hours');
    await tag('ci/app', 'kept', '1 minute');
    const r = rules(`retention:\n  - repositories: ['ci/**']\n    keepLatest: 1\n`);
    const worker = (intervalMs: number) =>
      new RetentionWorker(
        ds,
        { current: async () => r },
        { intervalMs },
        new Recorder(),
        NO_EVENTS,
        GC_DEFAULTS,
      );
    // Another replica's pass holds the lock: this one skips.
    const other = ds.createQueryRunner();
    await other.connect();
    await other.query('SELECT pg_advisory_lock($1)', [0x57_48_52_46_52_45_54]);
    expect(await worker(3_600_000).runOnce()).toBeUndefined();
    expect(await tagsOf('ci/app')).toEqual(['gone', 'kept']);
    await other.query('SELECT pg_advisory_unlock($1)', [0x57_48_52_46_52_45_54]);
    await other.release();
    // Free again: the pass on its interval deletes.
    const w = worker(100);
    w.onApplicationBootstrap();
    for (let i = 0; i < 50 && (await tagsOf('ci/app')).length > 1; i++) await sleep(100);
    await w.beforeApplicationShutdown();
    expect(await tagsOf('ci/app')).toEqual(['kept']);
  });

  it('records pull times in memory and writes them in one UPDATE per batch; a pull time never goes back', async () => {
    await tag('ci/app', 'a', '3 hours');
    await tag('ci/app', 'b', '3 hours');
    const queries: string[] = [];
    const spy = {
      query: (sql: string, params?: unknown[]) => {
        queries.push(sql);
        return ds.query(sql, params);
      },
    };
    const pulls = new TagPulls(spy, 200);
    const late = new Date();
    for (let i = 0; i < 1000; i++) pulls.pulled('ci/app', i % 2 ? 'a' : 'b', new Date(late.getTime() - i));
    pulls.pulled('ci/app', 'missing'); // no such tag: nothing to record
    pulls.pulled('ci/app', 'a', late);
    expect(queries).toHaveLength(0);
    await sleep(400);
    await pulls.flush();
    expect(queries).toHaveLength(1);
    const rows = (await ds.query(`SELECT name, pulled_at FROM metadata.tags ORDER BY name`)) as {
      name: string;
      pulled_at: Date;
    }[];
    expect(rows.map((r) => [r.name, r.pulled_at.getTime()])).toEqual([
      ['a', late.getTime()],
      ['b', late.getTime()],
    ]);
    pulls.pulled('ci/app', 'a', new Date(late.getTime() - 60_000));
    await pulls.flush();
    const [a] = (await ds.query(`SELECT pulled_at FROM metadata.tags WHERE name = 'a'`)) as {
      pulled_at: Date;
    }[];
    expect(a.pulled_at.getTime()).toBe(late.getTime());
  });
});
