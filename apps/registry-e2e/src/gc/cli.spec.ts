/**
 * `npm run wharf -- gc stats|--dry-run|run` (the built CLI, dist/apps/cli; needs `npm run build`),
 * against WHARF_DATABASE_URL and against a running all-in-one's embedded Postgres.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '@wharf/config';
import { startRegistry } from '@wharf/registry-app';
import { RegistryClient, randomBlob } from '../api/support/client';
import { sleep, startGcRegistry, type GcRegistry } from './support';

const CLI = join(__dirname, '../../../../dist/apps/cli/src/main.js');
const run = promisify(execFile);

async function wharf(env: Record<string, string>, ...args: string[]) {
  const { stdout } = await run(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
  });
  return stdout;
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
  garbage?: { manifests: number; blobs: number; blobBytes: number };
  collected?: { manifests: number; blobs: number; bytes: number };
}

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
    const kept = await r.client.pushImage('cli/app', { tag: 'v1' });
    const gone = await r.client.pushImage('cli/app', { layers: [randomBlob(3000), randomBlob(5000)] });
    const goneBytes = gone.configBlob.length + 8000;
    await sleep(r.delayMs + 100);

    const dry = JSON.parse(await wharf(env, 'gc', '--dry-run', '--json')) as Report;
    expect(dry.garbage).toEqual({
      manifests: 1,
      manifestBytes: gone.manifest.length,
      blobs: 3,
      blobBytes: goneBytes,
    });
    expect(r.blobOnDisk(gone.layers[1].digest)).toBe(true);
    expect(dry.stats.manifestsDeleted).toBe(0);

    const text = await wharf(env, 'gc', 'run');
    expect(text).toContain('collected: 1 manifests, 3 blobs');
    for (const d of [gone.config.digest, ...gone.layers.map((l) => l.digest)])
      expect(r.blobOnDisk(d)).toBe(false);
    for (const d of [kept.config.digest, kept.layers[0].digest]) expect(r.blobOnDisk(d)).toBe(true);
    expect((await r.client.head(`/v2/cli/app/manifests/${gone.digest}`)).status).toBe(404);

    const stats = JSON.parse(await wharf(env, 'gc', 'stats', '--json')) as Report;
    expect(stats.stats).toMatchObject({
      manifestsDeleted: 1,
      blobsDeleted: 3,
      bytesFreed: goneBytes,
      overdueReviews: 0,
    });
    expect(stats.stats.lastRunAt).not.toBeNull();
    expect((JSON.parse(await wharf(env, 'gc', '--dry-run', '--json')) as Report).garbage).toMatchObject({
      manifests: 0,
      blobs: 0,
    });
  });

  it('a bad command prints the usage and exits 2', async () => {
    await expect(wharf(env, 'gc', 'sweep')).rejects.toMatchObject({ code: 2 });
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
