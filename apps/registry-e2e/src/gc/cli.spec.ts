/**
 * `npm run wharf -- gc stats|--dry-run|run` (the built CLI, dist/apps/cli; needs `npm run build`),
 * against WHARF_DATABASE_URL and against a running all-in-one's embedded Postgres.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { BLOB_API, type BlobApi } from '@wharf/contracts';
import { loadConfig } from '@wharf/config';
import { startRegistry } from '@wharf/registry-app';
import { MT, RegistryClient, descriptorOf, indexOf, randomBlob, sha256 } from '../api/support/client';
import { sleep, startGcRegistry, type GcRegistry } from './support';

const CLI = join(__dirname, '../../../../dist/apps/cli/src/main.js');
const run = promisify(execFile);

async function wharf(env: Record<string, string>, ...args: string[]) {
  const { stdout } = await run(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
  });
  return stdout;
}

interface Amount {
  manifests: number;
  manifestBytes: number;
  blobs: number;
  blobBytes: number;
}

interface Report {
  stats: {
    manifestReviews: number;
    blobReviews: number;
    manifestsDeleted: number;
    blobsDeleted: number;
    bytesFreed: number;
    lastRunAt: string | null;
    overdueReviews: number;
  };
  forecast?: {
    due: Amount;
    unlinked?: { blobs: number; blobBytes: number };
    notYetDue: Amount & { firstDueAt: string | null; lastDueAt: string | null };
  };
  collected?: { manifests: number; blobs: number; bytes: number };
}

const NOTHING = { manifests: 0, manifestBytes: 0, blobs: 0, blobBytes: 0 };

describe('wharf gc (admin CLI)', () => {
  let r: GcRegistry;
  let env: Record<string, string>;

  beforeAll(async () => {
    // No worker: everything below is the CLI's doing.
    r = await startGcRegistry({ WHARF_GC_ENABLED: 'false' });
    env = {
      WHARF_DATABASE_URL: r.databaseUrl,
      WHARF_DATA_DIR: r.dataDir,
      WHARF_GC_REVIEW_DELAY: `${r.delayMs}ms`,
    };
  });

  afterAll(() => r.stop());

  it('--dry-run counts what would be freed and changes nothing; run frees it; stats shows the totals', async () => {
    const before = JSON.parse(await wharf(env, 'gc', 'stats', '--json')) as Report;
    const kept = await r.client.pushImage('cli/app', { tag: 'v1' });
    const gone = await r.client.pushImage('cli/app', { layers: [randomBlob(3000), randomBlob(5000)] });
    const goneBytes = gone.configBlob.length + 8000;
    await sleep(r.delayMs + 100);

    const dry = JSON.parse(await wharf(env, 'gc', '--dry-run', '--json')) as Report;
    expect(dry.forecast!.due).toEqual({
      manifests: 1,
      manifestBytes: gone.manifest.length,
      blobs: 3,
      blobBytes: goneBytes,
    });
    expect(dry.forecast!.notYetDue).toMatchObject(NOTHING);
    expect(r.blobOnDisk(gone.layers[1].digest)).toBe(true);
    expect(dry.stats.manifestsDeleted).toBe(before.stats.manifestsDeleted);

    const text = await wharf(env, 'gc', 'run');
    expect(text).toContain('collected: 1 manifests, 3 blobs');
    expect(text).not.toContain('not yet due');
    for (const d of [gone.config.digest, ...gone.layers.map((l) => l.digest)])
      expect(r.blobOnDisk(d)).toBe(false);
    for (const d of [kept.config.digest, kept.layers[0].digest]) expect(r.blobOnDisk(d)).toBe(true);
    expect((await r.client.head(`/v2/cli/app/manifests/${gone.digest}`)).status).toBe(404);

    const stats = JSON.parse(await wharf(env, 'gc', 'stats', '--json')) as Report;
    expect(stats.stats).toMatchObject({
      manifestsDeleted: before.stats.manifestsDeleted + 1,
      blobsDeleted: before.stats.blobsDeleted + 3,
      bytesFreed: before.stats.bytesFreed + goneBytes,
      overdueReviews: 0,
    });
    expect(stats.stats.lastRunAt).not.toBeNull();
    expect((JSON.parse(await wharf(env, 'gc', '--dry-run', '--json')) as Report).forecast!.due).toEqual(
      NOTHING,
    );
  });

  it('--dry-run counts bytes whose repository link never came, which run then collects', async () => {
    const blobs = r.running.app.get<BlobApi>(BLOB_API);
    // What a gateway that went away between the blob commit and the link leaves behind.
    const data = randomBlob(7000);
    const session = await blobs.startUpload({ repository: 'cli/unlinked' });
    const { digest } = await blobs.completeUpload({
      repository: 'cli/unlinked',
      id: session.id,
      digest: sha256(data),
      chunk: { body: Readable.from([data]), length: data.length },
    });
    await sleep(r.delayMs + 100);

    const dry = JSON.parse(await wharf(env, 'gc', '--dry-run', '--json')) as Report;
    expect(dry.forecast!.unlinked).toEqual({ blobs: 1, blobBytes: 7000 });
    expect(dry.forecast!.due).toEqual({ manifests: 0, manifestBytes: 0, blobs: 1, blobBytes: 7000 });
    expect(await wharf(env, 'gc', '--dry-run')).toContain(
      'would free now: 0 manifests (0 B), 1 blobs (6.8 KiB), of which 1 blobs (6.8 KiB) never got a repository link',
    );
    expect(r.blobOnDisk(digest)).toBe(true);
    const ran = JSON.parse(await wharf(env, 'gc', 'run', '--json')) as Report;
    expect(ran.collected).toMatchObject({ blobs: 1, bytes: 7000 });
    expect(r.blobOnDisk(digest)).toBe(false);
  });

  it('--help and -h print the usage and exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const out = await wharf({}, flag);
      expect(out).toMatch(/^usage: wharf gc stats\|--dry-run\|run \[--json\]/);
    }
    expect(await wharf({}, 'gc', '--help')).toMatch(/^usage: /);
  });

  it.each([
    [['sweep'], 'unknown command "sweep"'],
    [['gc', 'sweep'], 'unknown gc subcommand "sweep"'],
    [['gc'], 'missing gc subcommand'],
    [[], 'missing command'],
    [['gc', 'run', 'extra'], 'unexpected argument "extra"'],
  ])('wharf %j says what is wrong, prints the usage and exits 2', async (args, message) => {
    const failed = await wharf(env, ...args).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toMatch(new RegExp(`^${message.replace(/[|[\]]/g, '\\$&')}\n\nusage: wharf gc`));
  });

  it('names WHARF_DATA_DIR when the data directory holds no registry, and creates nothing there', async () => {
    const missing = join(tmpdir(), `wharf-gc-cli-missing-${process.pid}`);
    const failed = await wharf({ WHARF_DATA_DIR: missing }, 'gc', 'stats').then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/^WHARF_DATA_DIR: no registry data in .*wharf-gc-cli-missing-/);
    expect(existsSync(missing)).toBe(false);
  });

  it('reaches a running all-in-one through its data directory without disturbing it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wharf-gc-cli-'));
    chmodSync(dataDir, 0o755);
    const registry = await startRegistry(
      loadConfig({ WHARF_HTTP_ADDR: '127.0.0.1:0', WHARF_DATA_DIR: dataDir, WHARF_LOG_LEVEL: 'warn' }),
    );
    const client = new RegistryClient(registry.url);
    try {
      await client.pushBlob('embedded/app', randomBlob(100));
      const stats = await wharf({ WHARF_DATA_DIR: dataDir }, 'gc', 'stats');
      expect(stats).toMatch(/queue: 0 manifest reviews, 1 blob reviews/);
      expect((await client.get('/v2/')).status).toBe(200);
      await client.pushBlob('embedded/app', randomBlob(100));
    } finally {
      client.close();
      await registry.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('wharf gc within the review delay', () => {
  let r: GcRegistry;
  let env: Record<string, string>;

  beforeAll(async () => {
    // Long enough for a few CLI runs on a loaded machine: what the tests push stays young throughout.
    r = await startGcRegistry({ WHARF_GC_ENABLED: 'false', WHARF_GC_REVIEW_DELAY: '30s' });
    env = { WHARF_DATABASE_URL: r.databaseUrl, WHARF_DATA_DIR: r.dataDir, WHARF_GC_REVIEW_DELAY: '30s' };
  });

  afterAll(() => r.stop());

  it("--dry-run gives the children of an untagged index, and their layers, the index's later due time", async () => {
    const repo = 'cli/multiarch';
    const amd = await r.client.pushImage(repo, { layers: [randomBlob(500)] });
    const arm = await r.client.pushImage(repo, { layers: [randomBlob(600)] });
    // The children come due first on their own; the index holds them until it goes itself.
    await sleep(2000);
    const indexPushedAt = Date.now();
    const index = indexOf(MT.ociIndex, [
      descriptorOf(MT.ociManifest, amd.manifest),
      descriptorOf(MT.ociManifest, arm.manifest),
    ] as never);
    await r.client.pushManifest(repo, sha256(index), index, MT.ociIndex);
    const dry = JSON.parse(await wharf(env, 'gc', '--dry-run', '--json')) as Report;
    const waiting = dry.forecast!.notYetDue;
    expect(waiting).toMatchObject({ manifests: 3, blobs: 4 });
    const first = Date.parse(waiting.firstDueAt!);
    expect(first).toBeGreaterThanOrEqual(indexPushedAt + r.delayMs - 1000);
    expect(Date.parse(waiting.lastDueAt!) - first).toBeLessThan(1000);
  });

  it('--dry-run and run agree: young orphans are not yet due, and run says when they will be', async () => {
    // What the test before left waiting (it is young too).
    const before = (JSON.parse(await wharf(env, 'gc', '--dry-run', '--json')) as Report).forecast!.notYetDue;
    const pushedAt = Date.now();
    const young = await r.client.pushImage('cli/young', { layers: [randomBlob(1000)] });
    const dry = JSON.parse(await wharf(env, 'gc', '--dry-run', '--json')) as Report;
    const text = await wharf(env, 'gc', 'run');
    // Both ran within the review delay of the push, or what they say below is not the point.
    expect(Date.now() - pushedAt).toBeLessThan(r.delayMs);
    expect(dry.forecast!.due).toEqual(NOTHING);
    expect(dry.forecast!.notYetDue).toMatchObject({
      manifests: before.manifests + 1,
      manifestBytes: before.manifestBytes + young.manifest.length,
      blobs: before.blobs + 2,
      blobBytes: before.blobBytes + young.configBlob.length + 1000,
    });
    const lastDue = Date.parse(dry.forecast!.notYetDue.lastDueAt!);
    expect(lastDue).toBeGreaterThan(pushedAt);
    expect(lastDue).toBeLessThanOrEqual(Date.now() + r.delayMs);
    expect(text).toContain('collected: 0 manifests, 0 blobs, 0 B freed');
    expect(text).toMatch(
      /not yet due: \d+ manifests \(.+\), \d+ blobs \(.+\); due from \d{4}-.* \(all by \d{4}-/,
    );
    expect(text).toContain('WHARF_GC_REVIEW_DELAY (30s)');
    expect(text).toMatch(/nothing was due yet: run again after \d{4}-/);
    expect((await r.client.head(`/v2/cli/young/manifests/${young.digest}`)).status).toBe(200);
  });
});
