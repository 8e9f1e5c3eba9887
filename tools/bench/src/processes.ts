import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { Proc } from './model';

export interface Server {
  name: string;
  /** The URL clients use: several comma-separated for a registry with several gateways. */
  url: string;
  /** The main process (the one clients talk to; the first gateway). */
  pid: number;
  /** Every server process, when there is more than one (e.g. the distributed shape). */
  processes?: Proc[];
  dir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function serverProcesses(s: Server): Proc[] {
  return s.processes ?? [{ name: s.name, pid: s.pid }];
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A temp dir that other users can traverse (the embedded Postgres runs as `postgres` under root). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

async function waitForV2(url: string, child: ChildProcess, output: () => string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${url}: exited before it was ready\n${output()}`);
    }
    try {
      const r = await request(`${url}/v2/`);
      await r.body.dump();
      if (r.statusCode === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url}: not ready after ${timeoutMs} ms\n${output()}`);
}

function track(child: ChildProcess): () => string {
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out;
}

/** A registry that dies mid-run says why (its last output), instead of leaving only ECONNREFUSED. */
function reportCrash(name: string, child: ChildProcess, output: () => string): void {
  const onExit = (code: number | null, signal: string | null) => {
    console.error(`${name} (pid ${child.pid}) exited unexpectedly (${signal ?? code}):\n${output()}`);
  };
  child.once('exit', onExit);
  (child as ChildProcess & { expectExit?: () => void }).expectExit = () => child.off('exit', onExit);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      (child as ChildProcess & { expectExit?: () => void }).expectExit?.();
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/** The all-in-one Wharf from dist (embedded Postgres inside the data dir). */
export async function startWharf(opts: { main: string; dataDir?: string; env?: NodeJS.ProcessEnv }) {
  const dir = opts.dataDir ?? tempDir('wharf-bench-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [...(process.env.WHARF_BENCH_NODE_ARGS?.split(' ') ?? []), opts.main],
    {
      env: {
        ...process.env,
        WHARF_HTTP_ADDR: `127.0.0.1:${port}`,
        WHARF_DATA_DIR: dir,
        WHARF_LOG_LEVEL: process.env.WHARF_LOG_LEVEL ?? 'warn',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output = track(child);
  const stop = stopper(child);
  reportCrash('wharf', child, output);
  try {
    await waitForV2(url, child, output, 120_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { name: 'wharf', url, pid: child.pid!, dir, child, stop } satisfies Server;
}

/**
 * CNCF Distribution (Debian's docker-registry) on the filesystem, with its stock in-memory blob
 * descriptor cache, access log off, deletes enabled and no auth.
 */
export async function startDistribution(opts: { binary?: string; dir?: string }) {
  const dir = opts.dir ?? tempDir('distribution-bench-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  cache:',
      '    blobdescriptor: inmemory',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const child = spawn(opts.binary ?? '/usr/bin/docker-registry', ['serve', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = track(child);
  const stop = stopper(child);
  reportCrash('distribution', child, output);
  try {
    await waitForV2(url, child, output, 30_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { name: 'distribution', url, pid: child.pid!, dir, child, stop } satisfies Server;
}

/** The bare Node file server (bare-server.ts), serving files from `dir`. */
export async function startBare(dir: string) {
  const child = spawn(process.execPath, [join(__dirname, 'bare-server.js'), dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = track(child);
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (b: Buffer) => {
      const m = /"port":(\d+)/.exec(b.toString());
      if (m) {
        child.stdout?.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', () => reject(new Error(`bare server exited\n${output()}`)));
  });
  return {
    name: 'bare',
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    dir,
    child,
    stop: stopper(child),
  } satisfies Server;
}
