/**
 * The distributed shape for the benchmark: one blob, one metadata and one gateway process (the
 * built dist/apps/*), on the machine's Postgres (a fresh database) and NATS (a subject prefix of
 * its own), blobs on the filesystem like the all-in-one. One replica each, so that set beside the
 * all-in-one on the same machine the difference is the cost of the hops (gateway → NATS →
 * metadata, gateway → blob HTTP), not of more processes sharing the cores.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, tempDir, type Server } from './processes';

const ROLES = ['blob', 'metadata', 'gateway'] as const;
type Role = (typeof ROLES)[number];

function pgEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: process.env.PGHOST ?? '127.0.0.1',
    PGUSER: process.env.PGUSER ?? 'postgres',
  };
}

async function waitReady(role: Role, url: string, child: ChildProcess, out: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${role} exited early:\n${out()}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${role} not ready after 90 s:\n${out()}`);
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** `apps` is dist/apps. The Server's pid is the gateway's (the process a client talks to). */
export async function startDistributed(opts: {
  apps: string;
}): Promise<Server & { pids: Record<Role, number> }> {
  const dir = tempDir('wharf-bench-dist-');
  const db = `wharf_bench_${randomBytes(6).toString('hex')}`;
  execFileSync('createdb', [db], { env: pgEnv() });
  mkdirSync(join(dir, 'keys'), { mode: 0o700 });
  const keyFile = join(dir, 'keys', 'schema1-signing.pem');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const ports = { blob: await freePort(), metadata: await freePort(), gateway: await freePort() };
  const { PGHOST, PGUSER } = pgEnv();
  const env: Record<string, string> = {
    WHARF_NATS_URL: process.env.WHARF_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222',
    WHARF_NATS_PREFIX: `bench_${randomBytes(6).toString('hex')}`,
    WHARF_INTERNAL_TOKEN: randomBytes(24).toString('hex'),
    WHARF_DATABASE_URL: `postgres://${PGUSER}@${PGHOST}:5432/${db}`,
    WHARF_DATA_DIR: dir,
    WHARF_STORAGE_ROOT: join(dir, 'blobs'),
    WHARF_BLOB_URL: `http://127.0.0.1:${ports.blob}`,
    WHARF_METADATA_URL: `http://127.0.0.1:${ports.metadata}`,
    WHARF_SCHEMA1_SIGNING_KEY: keyFile,
    WHARF_LOG_LEVEL: process.env.WHARF_LOG_LEVEL ?? 'warn',
  };
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WHARF_')));
  const children: Partial<Record<Role, ChildProcess>> = {};
  const stopAll = async () => {
    // Gateway first, so nothing new reaches the services while they drain.
    for (const role of [...ROLES].reverse()) if (children[role]) await stop(children[role]);
    try {
      execFileSync('dropdb', ['--force', '--if-exists', db], { env: pgEnv(), stdio: 'ignore' });
    } catch {
      // a leftover benchmark database harms nothing
    }
  };
  try {
    // One at a time: each migrates its schema at start.
    for (const role of ROLES) {
      const child = spawn(process.execPath, [join(opts.apps, role, 'src/main.js')], {
        env: { ...inherited, ...env, WHARF_HTTP_ADDR: `127.0.0.1:${ports[role]}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children[role] = child;
      let out = '';
      const keep = (b: Buffer) => {
        out = (out + b.toString()).slice(-20_000);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      await waitReady(role, `http://127.0.0.1:${ports[role]}`, child, () => out);
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  const gateway = children.gateway!;
  return {
    name: 'wharf-distributed',
    url: `http://127.0.0.1:${ports.gateway}`,
    pid: gateway.pid!,
    pids: { blob: children.blob!.pid!, metadata: children.metadata!.pid!, gateway: gateway.pid! },
    dir,
    child: gateway,
    stop: stopAll,
  };
}
