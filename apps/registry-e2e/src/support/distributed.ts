/**
 * The distributed shape as separate processes, as in production: two gateways, two metadata and
 * two blob services (the built `dist/apps/*`), against the machine's Postgres (a fresh database)
 * and NATS (a subject prefix of their own, so parallel test files never answer each other). Blobs
 * go to a filesystem directory all blob replicas share, `<dataDir>/blobs` as in the all-in-one, so
 * the API suite's storage checks hold unchanged.
 *
 * The URL handed to tests is a TCP proxy that spreads connections over both gateways, so every API
 * test also checks that any gateway can serve any request of a conversation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { connect as natsConnect } from 'nats';
import { join } from 'node:path';
import { exportSigningKeyPem, generateSigningKey } from '@wharf/schema1';
import { startS3TestServer, type S3TestServer } from '@wharf/storage/testing';
import { createTestDatabase } from './in-process';
import { NatsProxy } from './nats-proxy';
import { freePort } from './process';
import type { TestRegistry } from './registry';

// WHARF_E2E_DIST: another build's dist/apps (for example one with a fault planted, to see a test catch it).
const DIST = process.env.WHARF_E2E_DIST ?? join(__dirname, '../../../../dist/apps');

export type Role = 'gateway' | 'metadata' | 'blob';

export interface ServiceProcess {
  role: Role;
  url: string;
  port: number;
  child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<number | string>;
  output(): string;
}

export interface DistributedCluster extends TestRegistry {
  /** Each gateway's own URL (the `url` proxy spreads over them). */
  gateways: string[];
  services: Record<Role, ServiceProcess[]>;
  /** Starts a replacement for a stopped replica, on the same port. */
  restart(p: ServiceProcess): Promise<ServiceProcess>;
  /** Environment every service got (for tests that start extra ones), but the natsProxy replica's NATS URL. */
  env: Record<string, string>;
  /** The S3 test server, when blobs are kept there. */
  s3?: S3TestServer;
  /** The proxy the `natsProxy` replica reaches NATS through (restarts of it too). */
  natsProxy?: NatsProxy;
}

export interface DistributedOptions {
  replicas?: Partial<Record<Role, number>>;
  /**
   * Where blob replicas keep bytes: a shared directory (the default, so the API suite's storage
   * checks hold), or the S3 test server (libs/storage/src/testing). WHARF_E2E_STORAGE sets the default.
   */
  storage?: 'filesystem' | 's3';
  /** Extra WHARF_* settings for every service. */
  env?: Record<string, string>;
  /** Extra settings that name the S3 test server (e.g. WHARF_S3_PUBLIC_ENDPOINT), when it is used. */
  s3Env?: (s3: S3TestServer) => Record<string, string>;
  /** One replica (e.g. `{ role: 'gateway', index: 1 }`) reaches NATS through a NatsProxy the test can cut. */
  natsProxy?: { role: Role; index: number };
}

export async function startDistributedRegistry(opts: DistributedOptions = {}): Promise<DistributedCluster> {
  const db = createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-dist-'));
  mkdirSync(join(dataDir, 'keys'), { mode: 0o700 });
  const keyFile = join(dataDir, 'keys', 'schema1-signing.pem');
  writeFileSync(keyFile, exportSigningKeyPem(generateSigningKey()), { mode: 0o600 });
  const counts = { gateway: 2, metadata: 2, blob: 2, ...opts.replicas };
  const ports = {
    gateway: await freePorts(counts.gateway),
    metadata: await freePorts(counts.metadata),
    blob: await freePorts(counts.blob),
  };
  const urls = (role: Role) => ports[role].map((p) => `http://127.0.0.1:${p}`);
  const env: Record<string, string> = {
    WHARF_NATS_URL: process.env.WHARF_E2E_NATS_URL ?? 'nats://127.0.0.1:4222',
    WHARF_NATS_PREFIX: `e2e_${randomBytes(6).toString('hex')}`,
    WHARF_INTERNAL_TOKEN: randomBytes(24).toString('hex'),
    WHARF_DATABASE_URL: db.url,
    WHARF_DATA_DIR: dataDir,
    WHARF_STORAGE_ROOT: join(dataDir, 'blobs'),
    WHARF_BLOB_URL: urls('blob').join(','),
    WHARF_METADATA_URL: urls('metadata').join(','),
    WHARF_SCHEMA1_SIGNING_KEY: keyFile,
    WHARF_LOG_LEVEL: process.env.WHARF_LOG_LEVEL ?? 'warn',
    WHARF_SHUTDOWN_TIMEOUT: '20s',
    ...opts.env,
  };
  const storage = opts.storage ?? (process.env.WHARF_E2E_STORAGE === 's3' ? 's3' : 'filesystem');
  const s3 = storage === 's3' ? await startS3TestServer() : undefined;
  if (s3) {
    Object.assign(env, {
      WHARF_S3_ENDPOINT: s3.endpoint,
      WHARF_S3_BUCKET: s3.bucket,
      WHARF_S3_REGION: s3.region,
      WHARF_S3_ACCESS_KEY: s3.accessKey,
      WHARF_S3_SECRET_KEY: s3.secretKey,
      WHARF_S3_PATH_STYLE: 'true',
      ...opts.s3Env?.(s3),
    });
  }
  const natsProxy = opts.natsProxy ? await NatsProxy.start(env.WHARF_NATS_URL.split(',')[0]) : undefined;
  const proxiedPort = opts.natsProxy && ports[opts.natsProxy.role][opts.natsProxy.index];
  const envOf = (port: number): Record<string, string> =>
    natsProxy && port === proxiedPort ? { ...env, WHARF_NATS_URL: natsProxy.url } : env;
  const services: Record<Role, ServiceProcess[]> = { gateway: [], metadata: [], blob: [] };
  const stopAll = async (): Promise<void> => {
    await Promise.all(
      Object.values(services)
        .flat()
        .map((p) => stopProcess(p)),
    );
  };
  let proxy: RoundRobinProxy | undefined;
  try {
    // Blob first: metadata migrates its schema at start, and so does blob; one at a time is gentler
    // on a 2-core CI machine than six processes cold-starting together.
    for (const role of ['blob', 'metadata', 'gateway'] as Role[]) {
      services[role] = await Promise.all(ports[role].map((port) => spawnService(role, port, envOf(port))));
    }
    proxy = await RoundRobinProxy.start(ports.gateway);
  } catch (e) {
    await stopAll();
    await natsProxy?.close();
    await s3?.stop();
    db.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const url = `http://127.0.0.1:${proxy.port}`;
  return {
    url,
    host: new URL(url).host,
    dataDir,
    gateways: urls('gateway'),
    services,
    env,
    s3,
    natsProxy,
    restart: async (p) => {
      const fresh = await spawnService(p.role, p.port, envOf(p.port));
      const list = services[p.role];
      list[list.indexOf(p)] = fresh;
      return fresh;
    },
    stop: async () => {
      await proxy?.close();
      await stopAll();
      await natsProxy?.close();
      await deleteEventStream(env);
      await s3?.stop();
      db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The metadata services publish events to JetStream: drop this run's stream from the shared NATS. */
async function deleteEventStream(env: Record<string, string>): Promise<void> {
  const nc = await natsConnect({ servers: env.WHARF_NATS_URL }).catch(() => undefined);
  if (!nc) return;
  const jsm = await nc.jetstreamManager().catch(() => undefined);
  await jsm?.streams.delete(`${env.WHARF_NATS_PREFIX.replace(/\./g, '_')}_events`).catch(() => false);
  await nc.close();
}

async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

export async function spawnService(
  role: Role,
  port: number,
  env: Record<string, string>,
): Promise<ServiceProcess> {
  // The test runner's own WHARF_* (e.g. WHARF_E2E_SHAPE) are not the services' business.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WHARF_')));
  const child = spawn(process.execPath, [join(DIST, role, 'src/main.js')], {
    env: { ...inherited, ...env, WHARF_HTTP_ADDR: `127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // WHARF_E2E_LOG_DIR keeps every service's log, for a failure that only the services can explain.
  const logDir = process.env.WHARF_E2E_LOG_DIR;
  const log = logDir ? `${logDir}/${env.WHARF_NATS_PREFIX}-${role}-${port}.log` : undefined;
  if (logDir) mkdirSync(logDir, { recursive: true });
  const keep = (d: Buffer): void => {
    out = (out + d).slice(-200_000);
    if (log) appendFileSync(log, d);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${role} exited early:\n${out}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${role} did not become ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { role, url, port, child, exited, output: () => out };
}

/** SIGTERM, then SIGKILL if the drain takes too long; resolves once the process is gone. */
export async function stopProcess(p: ServiceProcess, timeoutMs = 25_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  await p.exited;
  clearTimeout(timer);
}

/**
 * A load balancer in miniature: each new client connection goes to the next gateway. Bytes pass
 * through untouched (raw and malformed requests included), half-closes included.
 */
class RoundRobinProxy {
  private next = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targets: number[]): Promise<RoundRobinProxy> {
    const holder: { proxy?: RoundRobinProxy } = {};
    const server = createServer({ allowHalfOpen: true }, (client) => {
      const proxy = holder.proxy!;
      const upstream = connect({
        port: targets[proxy.next++ % targets.length],
        host: '127.0.0.1',
        allowHalfOpen: true,
      });
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on('close', () => proxy.sockets.delete(s));
      }
      client.pipe(upstream);
      upstream.pipe(client);
      const kill = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', kill);
      upstream.on('error', kill);
      client.on('close', () => upstream.end());
      upstream.on('close', () => client.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    holder.proxy = new RoundRobinProxy(server, (server.address() as { port: number }).port);
    return holder.proxy;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
