import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { lockDataDir, postmastersFor } from '@wharf/embedded-postgres';
import { MT, RegistryClient, type PushedImage } from './api/support/client';
import { spawnRegistry, type RegistryProcess } from './support/process';

// The built all-in-one as a real process: one registry per data directory (docs/adr/0016).

async function pulls(url: string, repo: string, image: PushedImage): Promise<void> {
  const client = new RegistryClient(url);
  try {
    const manifest = await client.request('GET', `/v2/${repo}/manifests/${image.digest}`, {
      headers: { Accept: MT.ociManifest },
    });
    expect(manifest.status).toBe(200);
    expect(manifest.body.equals(image.manifest)).toBe(true);
    const layer = await client.request('GET', `/v2/${repo}/blobs/${image.layers[0].digest}`);
    expect(layer.body.equals(image.layerBlobs[0])).toBe(true);
  } finally {
    client.close();
  }
}

const CLI = join(__dirname, '../../../dist/apps/cli/src/main.js');

async function wharf(dataDir: string, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, WHARF_DATA_DIR: dataDir },
  });
  return stdout;
}

async function push(url: string, repo: string, tag: string): Promise<PushedImage> {
  const client = new RegistryClient(url);
  try {
    return await client.pushImage(repo, { tag });
  } finally {
    client.close();
  }
}

describe('the data directory lock', () => {
  let dataDir: string;
  let running: RegistryProcess[] = [];

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'wharf-datadir-'));
    chmodSync(dataDir, 0o755); // the embedded PostgreSQL runs as 'postgres' when we are root
  });

  afterEach(async () => {
    for (const r of running) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.child.kill('SIGTERM');
        await r.exited;
      }
    }
    running = [];
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a second registry on the same data directory; the first keeps serving', async () => {
    const first = await spawnRegistry(dataDir);
    running.push(first);
    const before = await push(first.url, 'lock/app', 'v1');
    const postmaster = postmastersFor(join(dataDir, 'postgres'));
    expect(postmaster).toHaveLength(1);

    const refused = await spawnRegistry(dataDir).then(
      (r) => {
        running.push(r);
        throw new Error('the second registry started');
      },
      (e: Error) => e.message,
    );
    expect(refused).toContain(
      `WHARF_DATA_DIR: data directory ${dataDir} is in use by the registry with pid ${first.child.pid}`,
    );
    expect(refused).not.toContain('shutting it down');

    // Same database server as before, and pushes and pulls still work.
    expect(postmastersFor(join(dataDir, 'postgres'))).toEqual(postmaster);
    await pulls(first.url, 'lock/app', before);
    const after = await push(first.url, 'lock/app', 'v2');
    await pulls(first.url, 'lock/app', after);
    expect(first.output()).not.toMatch(/"level":50/); // no error logged by the first one
  });

  it('starts at once after the registry was killed with kill -9, taking over its database', async () => {
    const first = await spawnRegistry(dataDir);
    running.push(first);
    const image = await push(first.url, 'lock/crash', 'v1');
    const orphan = postmastersFor(join(dataDir, 'postgres'));
    first.child.kill('SIGKILL');
    await first.exited;
    expect(readFileSync(join(dataDir, 'wharf.lock'), 'utf8')).toMatch(new RegExp(`^${first.child.pid}\n`));

    const t = Date.now();
    const second = await spawnRegistry(dataDir);
    running.push(second);
    const took = Date.now() - t;
    console.log(`restart after kill -9 of the registry: ${took} ms`);
    expect(second.output()).toContain(`of the registry with pid ${first.child.pid}, which is gone`);
    expect(second.output()).toContain(`PostgreSQL from a previous run (pid ${orphan[0]})`);
    const now = postmastersFor(join(dataDir, 'postgres'));
    expect(now).toHaveLength(1);
    expect(now).not.toEqual(orphan);
    await pulls(second.url, 'lock/crash', image);
    expect(readFileSync(join(dataDir, 'wharf.lock'), 'utf8')).toMatch(new RegExp(`^${second.child.pid}\n`));
  });

  it('the admin CLI uses a running registry database, and runs one itself under the lock when none runs', async () => {
    const registry = await spawnRegistry(dataDir);
    running.push(registry);
    await push(registry.url, 'lock/cli', 'v1');
    const postmaster = postmastersFor(join(dataDir, 'postgres'));
    expect(await wharf(dataDir, 'gc', 'stats')).toMatch(/queue: /);
    expect(postmastersFor(join(dataDir, 'postgres'))).toEqual(postmaster);
    expect(readFileSync(join(dataDir, 'wharf.lock'), 'utf8')).toMatch(new RegExp(`^${registry.child.pid}\n`));
    await push(registry.url, 'lock/cli', 'v2');

    registry.child.kill('SIGTERM');
    await registry.exited;
    expect(await wharf(dataDir, 'gc', 'stats')).toMatch(/queue: /);
    expect(postmastersFor(join(dataDir, 'postgres'))).toEqual([]);
    expect(existsSync(join(dataDir, 'wharf.lock'))).toBe(false);
  });

  it('refuses to start while the admin CLI holds the data directory', async () => {
    // What `wharf gc` holds while it runs the database itself because no registry runs.
    const cli = lockDataDir(dataDir, 'admin CLI');
    try {
      const refused = await spawnRegistry(dataDir).then(
        () => 'started',
        (e: Error) => e.message,
      );
      expect(refused).toContain(
        `WHARF_DATA_DIR: data directory ${dataDir} is in use by the admin CLI with pid ${process.pid}`,
      );
    } finally {
      cli.release();
    }
    running.push(await spawnRegistry(dataDir));
  });
});
