/**
 * The distributed shape's overhead against the all-in-one, measured side by side in one run:
 * manifest GET by tag (requests/s) and blob GET (MB/s) through each, with the same client.
 *
 *   npm run build && node dist/tools/bench-distributed/src/overhead.js [--seconds 10]
 *
 * Needs Postgres (createdb) and NATS on 127.0.0.1, like the e2e tests. The distributed shape runs
 * one gateway, one metadata and one blob process, so both shapes get the same machine.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { exportSigningKeyPem, generateSigningKey } from '@wharf/schema1';

const ROOT = join(__dirname, '../../../..');
const SECONDS = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 10;
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];

async function spawnApp(app: string, env: Record<string, string>): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, `dist/apps/${app}/src/main.js`)], {
    env: { PATH: process.env.PATH, ...env, WHARF_HTTP_ADDR: `127.0.0.1:${port}`, WHARF_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`${url}/${app === 'registry' ? 'v2/' : 'readyz'}`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${app} did not start`);
}

function database(): string {
  const name = `wharf_bench_${randomBytes(4).toString('hex')}`;
  execFileSync('createdb', ['-h', '127.0.0.1', '-U', 'postgres', name]);
  cleanups.push(() => execFileSync('dropdb', ['-h', '127.0.0.1', '-U', 'postgres', '--force', name]));
  return `postgres://postgres@127.0.0.1:5432/${name}`;
}

async function push(url: string, layer: Buffer): Promise<void> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  for (const blob of [config, layer]) {
    const res = await fetch(`${url}/v2/bench/app/blobs/uploads/?digest=${sha(blob)}`, {
      method: 'POST',
      body: blob,
    });
    if (res.status !== 201) throw new Error(`blob push: ${res.status}`);
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha(config),
      size: config.length,
    },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length },
    ],
  });
  const res = await fetch(`${url}/v2/bench/app/manifests/latest`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  if (res.status !== 201) throw new Error(`manifest push: ${res.status}`);
}

/** `concurrency` loops issuing GET `path` for SECONDS; returns requests/s and bytes/s. */
async function load(url: string, path: string, concurrency: number, headers: Record<string, string> = {}) {
  const pool = new Pool(url, { connections: concurrency });
  let requests = 0;
  let bytes = 0;
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const res = await pool.request({ method: 'GET', path, headers });
        for await (const chunk of res.body) bytes += (chunk as Buffer).length;
        if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode}`);
        requests++;
      }
    }),
  );
  await pool.close();
  return { rps: requests / SECONDS, mbps: bytes / SECONDS / 1e6 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-overhead-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'schema1.pem');
  writeFileSync(key, exportSigningKeyPem(generateSigningKey()));

  const allInOne = await spawnApp('registry', {
    WHARF_DATABASE_URL: database(),
    WHARF_DATA_DIR: join(dir, 'aio'),
  });
  const [blobPort, metadataPort] = [await freePort(), await freePort()];
  const common = {
    WHARF_NATS_URL: 'nats://127.0.0.1:4222',
    WHARF_NATS_PREFIX: `bench_${randomBytes(4).toString('hex')}`,
    WHARF_INTERNAL_TOKEN: randomBytes(16).toString('hex'),
    WHARF_DATABASE_URL: database(),
    WHARF_STORAGE_ROOT: join(dir, 'dist-blobs'),
    WHARF_SCHEMA1_SIGNING_KEY: key,
    WHARF_BLOB_URL: `http://127.0.0.1:${blobPort}`,
    WHARF_METADATA_URL: `http://127.0.0.1:${metadataPort}`,
  };
  const spawnAt = async (app: string, port: number) => {
    const child = spawn(process.execPath, [join(ROOT, `dist/apps/${app}/src/main.js`)], {
      env: {
        PATH: process.env.PATH,
        ...common,
        WHARF_HTTP_ADDR: `127.0.0.1:${port}`,
        WHARF_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    for (let i = 0; i < 600; i++) {
      if (
        await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${app} did not start`);
  };
  await spawnAt('blob', blobPort);
  await spawnAt('metadata', metadataPort);
  const distributed = await spawnApp('gateway', common);

  const layer = randomBytes(64 << 20);
  await push(allInOne, layer);
  await push(distributed, layer);
  const accept = { accept: 'application/vnd.oci.image.manifest.v1+json' };
  const rows: string[] = [];
  // Interleaved, twice, so a burst of load elsewhere on the machine hits both shapes alike.
  const results: Record<string, { manifest: number[]; blob: number[] }> = {
    'all-in-one': { manifest: [], blob: [] },
    distributed: { manifest: [], blob: [] },
  };
  for (let round = 0; round < 2; round++) {
    for (const [name, url] of [
      ['all-in-one', allInOne],
      ['distributed', distributed],
    ] as const) {
      results[name].manifest.push((await load(url, '/v2/bench/app/manifests/latest', 32, accept)).rps);
      results[name].blob.push((await load(url, `/v2/bench/app/blobs/${sha(layer)}`, 4)).mbps);
    }
  }
  const best = (xs: number[]) => Math.max(...xs);
  rows.push('| shape | manifest GET by tag (req/s, 32 conns) | blob GET 64 MiB (MB/s, 4 conns) |');
  rows.push('| --- | --- | --- |');
  for (const [name, r] of Object.entries(results))
    rows.push(`| ${name} | ${best(r.manifest).toFixed(0)} | ${best(r.blob).toFixed(0)} |`);
  const a = results['all-in-one'];
  const d = results.distributed;
  rows.push(
    `| distributed / all-in-one | ${((best(d.manifest) / best(a.manifest)) * 100).toFixed(0)}% | ${((best(d.blob) / best(a.blob)) * 100).toFixed(0)}% |`,
  );
  console.log(rows.join('\n'));
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill('SIGTERM');
    setTimeout(() => {
      for (const f of cleanups) {
        try {
          f();
        } catch {
          // best effort
        }
      }
      process.exit();
    }, 3000);
  });
