/**
 * Namespace quotas (WHARF_RULES) end to end, in both shapes whatever WHARF_E2E_SHAPE says: the
 * all-in-one in process, and the distributed shape (two gateways behind a round-robin proxy, two
 * metadata and two blob services from the built dist/, every one given WHARF_RULES). Over HTTP: the
 * push that crosses the limit is refused with usage and limit, not the ones before; a POST at the
 * limit is refused; deleting content and letting the GC collect it frees quota; 20 racing pushes
 * for the last bytes never take usage over the limit. With skopeo: a copy over quota fails.
 * `wharf usage --json` (the built CLI) reports what the database holds.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import {
  RegistryClient,
  buildImage,
  expectError,
  expectStatus,
  randomBlob,
  sha256,
  withQuery,
} from '../api/support/client';
import { buildFixtureSet, type FixtureSet } from '../real-clients/fixtures';
import { ClientSandbox, CommandError, describeWithClients } from '../real-clients/tools';
import { createTestDatabase } from '../support/in-process';
import type { TestRegistry } from '../support/registry';

const KiB = 1024;
const MiB = 1024 * KiB;
const RULES = `quotas:
  - namespaces: ['team']
    limit: 1MiB
  - namespaces: ['gcq']
    limit: 1MiB
  - namespaces: ['race']
    limit: 4MiB
  - namespaces: ['tiny']
    limit: 1MiB
`;
const CLI = join(__dirname, '../../../../dist/apps/cli/src/main.js');
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
jest.setTimeout(180_000);

async function start(
  shape: 'all-in-one' | 'distributed',
  env: Record<string, string>,
): Promise<TestRegistry> {
  if (shape === 'distributed') {
    const { startDistributedRegistry } = await import('../support/distributed');
    return startDistributedRegistry({ env });
  }
  const { startInProcessRegistry } = await import('../support/in-process');
  return startInProcessRegistry(env);
}

describe.each(['all-in-one', 'distributed'] as const)('namespace quotas (%s)', (shape) => {
  let dir: string;
  let rulesFile: string;
  let db: { url: string; drop(): void };
  let registry: TestRegistry;
  let client: RegistryClient;
  let pg: Client;

  const usage = async (namespace: string): Promise<number> => {
    const { rows } = await pg.query<{ bytes: string }>(
      'SELECT bytes FROM metadata.namespace_usage WHERE namespace = $1',
      [namespace],
    );
    return rows.length ? Number(rows[0].bytes) : 0;
  };
  /** POST then PUT: the response to whichever step answered other than 202. */
  const tryPush = async (repo: string, data: Buffer, c = client) => {
    const session = await c.post(`/v2/${repo}/blobs/uploads/`);
    if (session.status !== 202) return session;
    return c.put(withQuery(session.location, { digest: sha256(data) }), data, {
      'Content-Type': 'application/octet-stream',
    });
  };
  const messageOf = (res: Awaited<ReturnType<typeof tryPush>>) =>
    expectError(res, 403, 'DENIED').errors[0].message ?? '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-rules-quotas-'));
    rulesFile = join(dir, 'rules.yaml');
    writeFileSync(rulesFile, RULES);
    db = createTestDatabase();
    registry = await start(shape, {
      WHARF_RULES: rulesFile,
      WHARF_DATABASE_URL: db.url,
      // Unreferenced blobs go after this: long enough for a test's pushes, short enough to wait for.
      WHARF_GC_REVIEW_DELAY: '3s',
      WHARF_GC_INTERVAL: '100ms',
    });
    client = new RegistryClient(registry.url);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  });

  afterAll(async () => {
    client?.close();
    await pg?.end();
    await registry?.stop();
    db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses the push that crosses the limit, not those before, naming usage and limit; a POST at the limit is refused', async () => {
    for (let i = 0; i < 3; i++) await client.pushBlob('team/app', randomBlob(300 * KiB));
    const over = randomBlob(300 * KiB);
    const message = messageOf(await tryPush('team/lib', over));
    expect(message).toContain(`${900 * KiB + 300 * KiB} bytes`);
    expect(message).toContain(`limit of ${MiB} bytes (1.0 MiB)`);
    expect(message).toContain(`${rulesFile} line 2`);
    expectStatus(await client.head(`/v2/team/lib/blobs/${sha256(over)}`), 404);
    expect(await usage('team')).toBe(900 * KiB);
    // Exactly to the limit is allowed; from then on a new upload is refused before any byte.
    await client.pushBlob('team/app', randomBlob(124 * KiB));
    expect(await usage('team')).toBe(MiB);
    const post = await client.post('/v2/team/other/blobs/uploads/');
    expect(messageOf(post)).toContain(`uses ${MiB} bytes (1.0 MiB) of its limit`);
    const mono = randomBlob(10);
    messageOf(await client.post(`/v2/team/app/blobs/uploads/?digest=${sha256(mono)}`, mono));
    // A manifest adds its own bytes, so at the limit it is refused too; other namespaces push freely.
    const image = buildImage();
    await client.pushImage('free/app', { config: image.configBlob, layers: image.layerBlobs });
    expectStatus(
      await client.post(`/v2/team/app/blobs/uploads/?mount=${image.config.digest}&from=free/app`),
      403,
    );
  });

  it('deleting content and letting the GC collect it frees quota', async () => {
    const pushed = await client.pushImage('gcq/app', { tag: 'v1', layers: [randomBlob(900 * KiB)] });
    const used = await usage('gcq');
    expect(used).toBe(900 * KiB + pushed.configBlob.length + pushed.manifest.length);
    messageOf(await tryPush('gcq/app', randomBlob(200 * KiB)));
    expectStatus(await client.delete(`/v2/gcq/app/manifests/${pushed.digest}`), 202);
    // The manifest's bytes go at once; its blobs once the collector takes them (review delay 1 s).
    expect(await usage('gcq')).toBe(used - pushed.manifest.length);
    const deadline = Date.now() + 60_000;
    while ((await usage('gcq')) > 0 && Date.now() < deadline) await sleep(200);
    expect(await usage('gcq')).toBe(0);
    await client.pushBlob('gcq/app', randomBlob(200 * KiB));
    expect(await usage('gcq')).toBe(200 * KiB);
  });

  it('20 concurrent pushes racing for the last megabyte: exactly those that fit succeed, usage never over the limit', async () => {
    // Held by a tag, so the collector leaves it while the race runs.
    await client.pushImage('race/base', { tag: 'v1', layers: [randomBlob(3 * MiB - 4 * KiB)] });
    const base = await usage('race');
    expect(Math.floor((4 * MiB - base) / (256 * KiB))).toBe(4);
    const clients = Array.from({ length: 4 }, () => new RegistryClient(registry.url));
    let peak = 0;
    let racing = true;
    const watch = (async () => {
      while (racing) {
        peak = Math.max(peak, await usage('race'));
        await sleep(5);
      }
    })();
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          tryPush(`race/r${i % 5}`, randomBlob(256 * KiB), clients[i % clients.length]),
        ),
      );
      racing = false;
      await watch;
      expect(results.filter((r) => r.status === 201)).toHaveLength(4);
      for (const r of results.filter((x) => x.status !== 201)) messageOf(r);
      expect(await usage('race')).toBe(base + 4 * 256 * KiB);
      expect(peak).toBeLessThanOrEqual(4 * MiB);
    } finally {
      racing = false;
      for (const c of clients) c.close();
    }
  });

  it('`wharf usage --json` lists namespaces with usage, limit and rule', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'usage', '--json'], {
      env: { PATH: process.env.PATH, WHARF_DATABASE_URL: db.url, WHARF_RULES: rulesFile },
    });
    const report = JSON.parse(stdout) as { namespaces: { namespace: string }[] };
    // The race's tagged base image stays; its untagged blobs may have been collected by now.
    expect(report.namespaces.find((n) => n.namespace === 'race')).toEqual({
      namespace: 'race',
      bytes: await usage('race'),
      limit: 4 * MiB,
      rule: `${rulesFile} line 6`,
    });
    expect(await usage('race')).toBeGreaterThan(3 * MiB - 4 * KiB);
  });

  describeWithClients('rules/quotas.spec.ts', ['skopeo'])('with skopeo', () => {
    let sb: ClientSandbox;
    let set: FixtureSet;

    beforeAll(async () => {
      sb = await ClientSandbox.create('wharf-rules-quotas-');
      set = await buildFixtureSet(sb, undefined, `quotas-${shape}`);
    });

    afterAll(async () => {
      await sb?.dispose();
    });

    it('a copy that would go over quota fails with DENIED and leaves usage within the limit', async () => {
      const refused = await sb
        .skopeoCopy(set.sources.docker, `docker://${registry.host}/tiny/skopeo:v1`, { preserveDigests: true })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(refused).toBeInstanceOf(CommandError);
      expect((refused as CommandError).stderr).toMatch(/denied|quota/i);
      expect(await usage('tiny')).toBeLessThanOrEqual(MiB);
      expectStatus(await client.head('/v2/tiny/skopeo/manifests/v1'), 404);
    });
  });
});
