import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postmastersFor } from '@wharf/embedded-postgres';
import { MT, RegistryClient } from './api/support/client';
import { spawnRegistry, type RegistryProcess } from './support/process';

// The built all-in-one as a real process: it restarts its embedded PostgreSQL when that dies, and
// says it is unavailable (503) rather than broken (500) while the database is down.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Binds `port` on 127.0.0.1 as soon as it is free; connections to it are dropped. */
async function squat(port: number): Promise<Server> {
  const server = createServer((socket) => socket.destroy());
  for (let i = 0; ; i++) {
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) return server;
    if (i > 1000) throw new Error(`port ${port} never came free`);
    await sleep(5);
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<number> {
  const t = Date.now();
  while (!(await check())) {
    if (Date.now() - t > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
  return Date.now() - t;
}

describe('the embedded database under a running registry', () => {
  let dataDir: string;
  let registry: RegistryProcess | undefined;
  let client: RegistryClient | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'wharf-supervision-'));
    chmodSync(dataDir, 0o755); // the embedded PostgreSQL runs as 'postgres' when we are root
  });

  afterEach(async () => {
    client?.close();
    if (registry && registry.child.exitCode === null) {
      registry.child.kill('SIGCONT');
      registry.child.kill('SIGTERM');
      await registry.exited;
    }
    registry = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is restarted after kill -9: 503 UNAVAILABLE and not ready while down, then serves the same data', async () => {
    registry = await spawnRegistry(dataDir);
    client = new RegistryClient(registry.url);
    const image = await client.pushImage('supervised/app', { tag: 'v1' });
    const ready = await client.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({
      status: 'ready',
      checks: { 'postgres.metadata': 'ok', 'postgres.blob': 'ok' },
    });

    const pgDir = join(dataDir, 'postgres');
    const [postmaster] = postmastersFor(pgDir);
    const port = Number(readFileSync(join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[3]);
    // Hold the registry still while its database dies and another program takes the port, so the
    // outage lasts until the test ends it (the registry keeps retrying on the same port).
    registry.child.kill('SIGSTOP');
    process.kill(postmaster, 'SIGKILL');
    const squatter = await squat(port);
    registry.child.kill('SIGCONT');
    try {
      await until('a failed restart', () => registry!.output().includes(`port ${port} is taken`));
      expect(registry.output()).toContain(`PostgreSQL (pid ${postmaster}) exited unexpectedly (SIGKILL)`);

      const health = await client.get('/healthz');
      expect(health.status).toBe(200); // alive: the process is fine, a restart would not help
      const notReady = await client.get('/readyz');
      expect(notReady.status).toBe(503);
      expect((notReady.json() as { status: string }).status).toBe('not ready');
      const pull = await client.request('GET', `/v2/supervised/app/manifests/v1`, {
        headers: { Accept: MT.ociManifest },
      });
      expect(pull.status).toBe(503);
      expect(pull.json()).toEqual({ errors: [{ code: 'UNAVAILABLE', message: 'database unavailable' }] });
      const upload = await client.request('POST', '/v2/supervised/app/blobs/uploads/');
      expect(upload.status).toBe(503);
      expect(registry.output()).not.toContain('"code":"UNKNOWN"');
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }

    const back = await until('serving again', async () => (await client!.get('/readyz')).status === 200);
    console.log(`serving again ${back} ms after the port came free`);
    expect(back).toBeLessThan(15_000);
    // The pools may reach the new server a moment before the supervisor's own check does and logs.
    await until('the restart logged', () =>
      /PostgreSQL \(pid \d+\) is back on 127\.0\.0\.1/.test(registry!.output()),
    );
    expect(postmastersFor(pgDir)).toHaveLength(1);
    expect(postmastersFor(pgDir)).not.toEqual([postmaster]);

    // Same data, and the pools work again (their dead connections were dropped).
    for (let i = 0; i < 5; i++) {
      const manifest = await client.request('GET', `/v2/supervised/app/manifests/v1`, {
        headers: { Accept: MT.ociManifest },
      });
      expect(manifest.status).toBe(200);
      expect(manifest.body.equals(image.manifest)).toBe(true);
    }
    // More requests at once than either pool holds connections: none may meet a dead one.
    const catalog = await Promise.all(Array.from({ length: 40 }, () => client!.get('/v2/_catalog')));
    expect(catalog.map((r) => r.status)).toEqual(Array(40).fill(200));
    const uploads = await Promise.all(
      Array.from({ length: 40 }, () => client!.request('POST', '/v2/supervised/app/blobs/uploads/')),
    );
    expect(uploads.map((r) => r.status)).toEqual(Array(40).fill(202));
    const more = await client.pushImage('supervised/app', { tag: 'v2' });
    expect((await client.get(`/v2/supervised/app/blobs/${more.layers[0].digest}`)).status).toBe(200);

    // Unobstructed, a restart is a matter of a second or two.
    const [second] = postmastersFor(pgDir);
    process.kill(second, 'SIGKILL');
    const t = Date.now();
    await until('serving after a second kill', async () => {
      const res = await client!.get(`/v2/supervised/app/blobs/${more.layers[0].digest}`);
      return res.status === 200 && postmastersFor(pgDir).length === 1 && postmastersFor(pgDir)[0] !== second;
    });
    console.log(`serving again ${Date.now() - t} ms after kill -9 of the postmaster`);
    expect(Date.now() - t).toBeLessThan(10_000);
  });
});
