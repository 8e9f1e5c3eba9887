/**
 * Retention over HTTP, in both shapes (the distributed one needs `npm run build`; so does the CLI,
 * dist/apps/cli): tags pushed and pulled with a real client, `wharf retention run --dry-run` then
 * `run` (against WHARF_DATABASE_URL, the registry running), exactly the right tags gone, answering
 * 404 from every gateway at once though they were cached there, delete events delivered; and the
 * pass on its WHARF_RETENTION_INTERVAL.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { MT, RegistryClient } from '../api/support/client';
import { matching, Receiver } from '../events/receiver';
import { startDistributedRegistry } from '../support/distributed';
import { createTestDatabase, startInProcessRegistry } from '../support/in-process';
import type { TestRegistry } from '../support/registry';

const CLI = join(__dirname, '../../../../dist/apps/cli/src/main.js');
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Pull times and pull events are flushed this often. */
const FLUSH_MS = 100;

// What the registry applies on its interval: only timer/**, so the CLI's repositories are the CLI's.
const REGISTRY_RULES = `retention:\n  - repositories: ['timer/**']\n    keepLatest: 1\n`;
const CLI_RULES = [
  'immutable:',
  "  - repositories: ['ci/**']",
  "    tags: ['v*']",
  'retention:',
  "  - repositories: ['ci/**']",
  '    keepLatest: 2',
  "    keepTags: ['main']",
  "  - repositories: ['hub/**']",
  '    keepPulledWithin: 1h',
].join('\n');

interface Report {
  dryRun: boolean;
  deleted: { repository: string; tag: string; digest: string; pulledAt: string | null }[];
}

describe.each(['all-in-one', 'distributed'] as const)('retention (%s)', (shape) => {
  let registry: TestRegistry;
  let gateways: RegistryClient[];
  let client: RegistryClient;
  let pg: Client;
  let dir: string;
  let cliEnv: Record<string, string>;
  let db: { url: string; drop(): void } | undefined;
  const receiver = new Receiver();

  beforeAll(async () => {
    await receiver.start();
    dir = mkdtempSync(join(tmpdir(), 'wharf-retention-'));
    writeFileSync(join(dir, 'registry-rules.yaml'), REGISTRY_RULES);
    writeFileSync(join(dir, 'cli-rules.yaml'), CLI_RULES);
    const env = {
      WHARF_RULES: join(dir, 'registry-rules.yaml'),
      WHARF_RETENTION_INTERVAL: '1s',
      WHARF_EVENTS_WEBHOOKS: receiver.url,
      WHARF_EVENTS_PULL_FLUSH: `${FLUSH_MS}ms`,
      WHARF_EVENTS_WEBHOOK_BACKOFF: '100ms',
    };
    let databaseUrl: string;
    if (shape === 'distributed') {
      const cluster = await startDistributedRegistry({ env });
      registry = cluster;
      gateways = cluster.gateways.map((u) => new RegistryClient(u));
      databaseUrl = cluster.env.WHARF_DATABASE_URL;
    } else {
      // A database of the test's own, to look at and to hand to the CLI.
      db = createTestDatabase();
      databaseUrl = db.url;
      registry = await startInProcessRegistry({ ...env, WHARF_DATABASE_URL: db.url });
      gateways = [new RegistryClient(registry.url)];
    }
    client = new RegistryClient(registry.url);
    pg = new Client({ connectionString: databaseUrl });
    await pg.connect();
    cliEnv = {
      WHARF_DATABASE_URL: databaseUrl,
      WHARF_DATA_DIR: registry.dataDir ?? dir,
      WHARF_RULES: join(dir, 'cli-rules.yaml'),
      WHARF_EVENTS_WEBHOOKS: receiver.url,
      WHARF_LOG_LEVEL: 'warn',
    };
  });

  afterAll(async () => {
    client?.close();
    for (const g of gateways ?? []) g.close();
    await pg?.end();
    await registry?.stop();
    db?.drop();
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const wharf = async (...args: string[]): Promise<Report> => {
    const { stdout } = await run(process.execPath, [CLI, 'retention', ...args, '--json'], {
      env: { PATH: process.env.PATH, ...cliEnv },
    });
    return JSON.parse(stdout) as Report;
  };
  const accept = { accept: [MT.ociManifest, MT.dockerManifest].join(', ') };
  const status = async (g: RegistryClient, repo: string, tag: string) =>
    (await g.get(`/v2/${repo}/manifests/${tag}`, accept)).status;
  /** Status of `repo:tag` from every gateway. */
  const everywhere = (repo: string, tag: string) => Promise.all(gateways.map((g) => status(g, repo, tag)));
  /** Sets when the tags were pushed, as if long ago (ties: the same instant). */
  const pushedAgo = (repo: string, tags: string[], ago: string) =>
    pg.query(
      `UPDATE metadata.tags t SET updated_at = date_trunc('second', now()) - $3::interval
         FROM metadata.repositories r WHERE r.id = t.repository_id AND r.name = $1 AND t.name = ANY($2)`,
      [repo, tags, ago],
    );
  const tagsOf = async (repo: string): Promise<string[]> =>
    (
      await pg.query<{ name: string }>(
        `SELECT t.name FROM metadata.tags t JOIN metadata.repositories r ON r.id = t.repository_id
         WHERE r.name = $1 ORDER BY t.name`,
        [repo],
      )
    ).rows.map((r) => r.name);
  const pulledAt = async (repo: string, tag: string): Promise<Date | null> =>
    (
      await pg.query<{ pulled_at: Date | null }>(
        `SELECT t.pulled_at FROM metadata.tags t JOIN metadata.repositories r ON r.id = t.repository_id
         WHERE r.name = $1 AND t.name = $2`,
        [repo, tag],
      )
    ).rows[0]?.pulled_at ?? null;
  const until = async (check: () => Promise<boolean>, what: string, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  };

  it('the CLI deletes exactly the tags no keep-rule holds, gone from every gateway at once, with delete events', async () => {
    for (const tag of ['old', 'a', 'b', 'c', 'new', 'main', 'v1']) await client.pushImage('ci/app', { tag });
    await pushedAgo('ci/app', ['main', 'v1'], '9 hours');
    await pushedAgo('ci/app', ['old'], '5 hours');
    await pushedAgo('ci/app', ['a', 'b', 'c'], '3 hours'); // a tie: a counts as the newest of them
    for (const tag of ['recent', 'cached', 'stale']) await client.pushImage('hub/library/app', { tag });
    await pushedAgo('hub/library/app', ['recent', 'cached', 'stale'], '3 hours');

    // Pulls by tag: `recent` once; `cached` through every gateway twice, so that the second pull is
    // answered from the gateway's cache and only the gateway's report records it.
    expect(await status(client, 'hub/library/app', 'recent')).toBe(200);
    expect(await everywhere('hub/library/app', 'cached')).toEqual(gateways.map(() => 200));
    await until(async () => (await pulledAt('hub/library/app', 'cached')) !== null, 'the first pull time');
    await pg.query(`UPDATE metadata.tags SET pulled_at = NULL WHERE name = 'cached'`);
    expect(await everywhere('hub/library/app', 'cached')).toEqual(gateways.map(() => 200));
    await until(async () => (await pulledAt('hub/library/app', 'cached')) !== null, 'the cached pull time');
    await until(async () => (await pulledAt('hub/library/app', 'recent')) !== null, 'the pull time');
    expect(await pulledAt('hub/library/app', 'stale')).toBeNull();

    // Every tag about to go is in every gateway's cache.
    for (const tag of ['old', 'b', 'c'])
      expect(await everywhere('ci/app', tag)).toEqual(gateways.map(() => 200));

    const expected = [
      ['ci/app', 'b'],
      ['ci/app', 'c'],
      ['ci/app', 'old'],
      ['hub/library/app', 'stale'],
    ];
    const dry = await wharf('run', '--dry-run');
    expect(dry.dryRun).toBe(true);
    expect(dry.deleted.map((t) => [t.repository, t.tag])).toEqual(expected);
    expect(await tagsOf('ci/app')).toEqual(['a', 'b', 'c', 'main', 'new', 'old', 'v1']);
    expect(await everywhere('ci/app', 'b')).toEqual(gateways.map(() => 200));

    const done = await wharf('run');
    expect(done.dryRun).toBe(false);
    // The same tags (pulled since, to check them: ci/** has no pull rule).
    const pick = (r: Report) => r.deleted.map(({ repository, tag, digest }) => ({ repository, tag, digest }));
    expect(pick(done)).toEqual(pick(dry));
    // At once, from every gateway, though each had them cached.
    for (const [repo, tag] of expected) expect(await everywhere(repo, tag)).toEqual(gateways.map(() => 404));
    for (const tag of ['a', 'new', 'main', 'v1'])
      expect(await everywhere('ci/app', tag)).toEqual(gateways.map(() => 200));
    for (const tag of ['recent', 'cached'])
      expect(await everywhere('hub/library/app', tag)).toEqual(gateways.map(() => 200));
    expect(await tagsOf('ci/app')).toEqual(['a', 'main', 'new', 'v1']);
    expect(await tagsOf('hub/library/app')).toEqual(['cached', 'recent']);
    // The manifests are left to the GC, by digest still there until it collects them.
    expect((await client.get(`/v2/ci/app/manifests/${done.deleted[0].digest}`, accept)).status).toBe(200);

    const acked = await receiver.waitFor(
      (a) =>
        matching(a, 'delete', 'ci/app').length >= 3 && matching(a, 'delete', 'hub/library/app').length >= 1,
    );
    expect(
      [...matching(acked, 'delete', 'ci/app'), ...matching(acked, 'delete', 'hub/library/app')]
        .map((e) => [e.target.repository, e.target.tag])
        .sort(),
    ).toEqual(expected);

    expect((await wharf('run')).deleted).toEqual([]);
  });

  it('the pass runs on its own every WHARF_RETENTION_INTERVAL, on one replica at a time', async () => {
    await client.pushImage('timer/app', { tag: 'first' });
    await sleep(20);
    await client.pushImage('timer/app', { tag: 'second' });
    await until(async () => (await tagsOf('timer/app')).length === 1, 'the interval pass');
    expect(await tagsOf('timer/app')).toEqual(['second']);
    expect(await everywhere('timer/app', 'first')).toEqual(gateways.map(() => 404));
    expect(await everywhere('timer/app', 'second')).toEqual(gateways.map(() => 200));
    const acked = await receiver.waitFor((a) => matching(a, 'delete', 'timer/app').length >= 1);
    await sleep(2500); // a few more passes, on every replica
    expect(matching([...receiver.acknowledged.values()], 'delete', 'timer/app')).toHaveLength(1);
    expect(matching(acked, 'delete', 'timer/app')[0].target.tag).toBe('first');
  });
});
