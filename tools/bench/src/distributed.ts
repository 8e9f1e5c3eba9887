/**
 * The distributed shape for the benchmark: blob, metadata and gateway processes (the built
 * dist/apps/*), on the machine's Postgres (a fresh database) and NATS (a subject prefix of its own),
 * blobs on the filesystem like the all-in-one. Gateways and blob services share one
 * WHARF_STORAGE_ROOT, so a gateway that reads committed blobs itself finds them. One replica each
 * by default, so that set beside the all-in-one on the same machine the difference is the cost of
 * the hops (gateway → NATS → metadata, gateway → blob HTTP), not of more processes sharing the cores.
 * With several gateways the Server's `url` lists them all (comma-separated): the bench client and
 * the soak's wrk spread their connections over them, no proxy in between.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Proc } from './model';
import { freePort, tempDir, type Server } from './processes';

const ROLES = ['blob', 'metadata', 'gateway'] as const;
export type Role = (typeof ROLES)[number];
export type Replicas = Record<Role, number>;

export const ONE_EACH: Replicas = { gateway: 1, metadata: 1, blob: 1 };

/** A replica count from the command line: a whole number from 1 to 16. */
export function parseCount(name: string, s: string | undefined, dflt: number): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new Error(`${name}: expected 1 to 16, got "${s}"`);
  return n;
}

/** The table's name for the shape: the replica counts, unless one of each. */
export function shapeLabel(r: Replicas): string {
  if (r.gateway === 1 && r.metadata === 1 && r.blob === 1) return 'Wharf dist.';
  return `Wharf dist. ${r.gateway}gw ${r.metadata}md ${r.blob}blob`;
}

function pgEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: process.env.PGHOST ?? '127.0.0.1',
    PGUSER: process.env.PGUSER ?? 'postgres',
  };
}

async function waitReady(name: string, url: string, child: ChildProcess, out: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${name} exited early:\n${out()}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${name} not ready after 90 s:\n${out()}`);
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

interface Replica {
  role: Role;
  name: string;
  port: number;
  child?: ChildProcess;
}

/** What a measurement of the shape needs besides its URLs: where its traffic goes. */
export interface DistributedInfo {
  processes: Proc[];
  replicas: Replicas;
  /** The Postgres database every service of this shape uses. */
  database: string;
  natsUrl: string;
  /** First token of every subject this shape's services use. */
  natsPrefix: string;
}

/**
 * `apps` is dist/apps. The Server's pid is the first gateway's; `processes` names every one.
 * `env`: more WHARF_* settings for every process (e.g. WHARF_GATEWAY_CACHE_SIZE=0); they win over
 * the ones set here.
 */
export async function startDistributed(opts: {
  apps: string;
  replicas?: Partial<Replicas>;
  env?: Record<string, string>;
}): Promise<Server & DistributedInfo> {
  const replicas = { ...ONE_EACH, ...opts.replicas };
  const dir = tempDir('wharf-bench-dist-');
  const db = `wharf_bench_${randomBytes(6).toString('hex')}`;
  execFileSync('createdb', [db], { env: pgEnv() });
  mkdirSync(join(dir, 'keys'), { mode: 0o700 });
  const keyFile = join(dir, 'keys', 'schema1-signing.pem');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const all: Replica[] = [];
  for (const role of ROLES) {
    for (let i = 1; i <= replicas[role]; i++)
      all.push({ role, name: `${role}-${i}`, port: await freePort() });
  }
  const urls = (role: Role) => all.filter((r) => r.role === role).map((r) => `http://127.0.0.1:${r.port}`);
  const { PGHOST, PGUSER } = pgEnv();
  const env: Record<string, string> = {
    WHARF_NATS_URL: process.env.WHARF_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222',
    WHARF_NATS_PREFIX: `bench_${randomBytes(6).toString('hex')}`,
    WHARF_INTERNAL_TOKEN: randomBytes(24).toString('hex'),
    WHARF_DATABASE_URL: `postgres://${PGUSER}@${PGHOST}:5432/${db}`,
    WHARF_DATA_DIR: dir,
    WHARF_STORAGE_ROOT: join(dir, 'blobs'),
    WHARF_BLOB_URL: urls('blob').join(','),
    WHARF_METADATA_URL: urls('metadata').join(','),
    WHARF_SCHEMA1_SIGNING_KEY: keyFile,
    WHARF_LOG_LEVEL: process.env.WHARF_LOG_LEVEL ?? 'warn',
    ...opts.env,
  };
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WHARF_')));
  const nodeArgs = process.env.WHARF_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    // Gateways first, so nothing new reaches the services while they drain.
    for (const r of [...all].reverse()) if (r.child) await stop(r.child);
    try {
      execFileSync('dropdb', ['--force', '--if-exists', db], { env: pgEnv(), stdio: 'ignore' });
    } catch {
      // a leftover benchmark database harms nothing
    }
  };
  try {
    // One at a time: each migrates its schema at start, and two cores cold-start one Node at a time best.
    for (const r of all) {
      const child = spawn(process.execPath, [...nodeArgs, join(opts.apps, r.role, 'src/main.js')], {
        env: { ...inherited, ...env, WHARF_HTTP_ADDR: `127.0.0.1:${r.port}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      r.child = child;
      let out = '';
      const keep = (b: Buffer) => {
        out = (out + b.toString()).slice(-20_000);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      // A replica that dies mid-run says why, instead of leaving only ECONNREFUSED or 503s.
      child.once('exit', (code, signal) => {
        if (!stopping) console.error(`${r.name} (pid ${child.pid}) exited (${signal ?? code}):\n${out}`);
      });
      await waitReady(r.name, `http://127.0.0.1:${r.port}`, child, () => out);
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  const gateway = all.find((r) => r.role === 'gateway')!.child!;
  return {
    name: 'wharf-distributed',
    url: urls('gateway').join(','),
    pid: gateway.pid!,
    // Listed gateways first: the processes a client talks to, then the ones behind them.
    processes: [...ROLES]
      .reverse()
      .flatMap((role) => all.filter((r) => r.role === role))
      .map((r) => ({ name: r.name, pid: r.child!.pid! })),
    replicas,
    database: db,
    natsUrl: env.WHARF_NATS_URL,
    natsPrefix: env.WHARF_NATS_PREFIX,
    dir,
    child: gateway,
    stop: stopAll,
  };
}
