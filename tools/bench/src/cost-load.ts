/**
 * The loads `bench:cost` measures under: wrk for manifest GETs (the cheapest client there is, so
 * the load generator takes little of the two cores from the services), undici where wrk cannot go
 * (a HEAD: wrk waits for the body its Content-Length announces), and plain loops for blob transfers
 * and tag moves, whose latencies are reported.
 */
import { spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { exchange, newPool } from './client';
import { tempDir } from './processes';
import { WRK_DONE_LUA, parseWrk, wrkSetupLua, wrkTargets, wrkThreads } from './soak-wrk';
import { closedLoop, percentile } from './stats';

export interface LoadOutcome {
  driver: 'wrk' | 'undici' | 'loop';
  /** Operations completed in the window (requests, blob GETs, pushes, tag moves). */
  ops: number;
  /** Bytes moved, for the blob operations. */
  bytes?: number;
  seconds: number;
  errors: number;
  firstError?: string;
  p50Ms?: number;
  p99Ms?: number;
  /** With concurrency 1: each operation's milliseconds (not written to the report). */
  latencies?: number[];
}

export function wrkAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' }).status === 0;
}

/**
 * One request, over and over: `setup` points thread i at target i mod n (as in soak-wrk.ts), and
 * `done` prints the figures as one JSON line that parseWrk reads.
 */
export function wrkGetScript(urls: string[], path: string, accept: string): string {
  return `${wrkSetupLua(wrkTargets(urls))}local req
function init(args)
  req = wrk.format('GET', ${JSON.stringify(path)}, { ['Host'] = host, ['Accept'] = ${JSON.stringify(accept)} })
end
function request()
  return req
end
${WRK_DONE_LUA}`;
}

export function wrkLoad(opts: {
  urls: string[];
  path: string;
  accept: string;
  connections: number;
  threads: number;
  seconds: number;
}): Promise<LoadOutcome> {
  const threads = wrkThreads(opts.threads, opts.urls.length, opts.connections);
  const dir = tempDir('wharf-cost-');
  const script = join(dir, 'get.lua');
  writeFileSync(script, wrkGetScript(opts.urls, opts.path, opts.accept));
  const args = [
    `-t${threads}`,
    `-c${opts.connections}`,
    `-d${opts.seconds}s`,
    '--timeout',
    '2s',
    '-s',
    script,
    opts.urls[0],
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', (e) => reject(new Error(`cannot run wrk: ${e.message}`)));
    child.once('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) return reject(new Error(`wrk exited ${code}:\n${out.slice(-2000)}`));
      try {
        const r = parseWrk(out);
        const errors = r.connect + r.read + r.write + r.status + r.timeout;
        resolve({
          driver: 'wrk',
          ops: r.requests,
          seconds: r.seconds,
          errors,
          firstError: errors ? `wrk: ${JSON.stringify(r)}` : undefined,
          p50Ms: r.p50Ms,
          p99Ms: r.p99Ms,
        });
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

/** One request as a closure over a pool: true when it answered `expect`. */
export function requester(
  pool: Dispatcher,
  req: { method: Dispatcher.HttpMethod; path: string; headers?: Record<string, string> },
  expect = 200,
): () => Promise<boolean> {
  return async () => (await exchange(pool, { ...req, reset: false })).status === expect;
}

/** `concurrency` undici connections in a closed loop for `seconds`, spread over `urls`. */
export async function undiciLoad(opts: {
  urls: string[];
  method: Dispatcher.HttpMethod;
  path: string;
  headers?: Record<string, string>;
  concurrency: number;
  seconds: number;
}): Promise<LoadOutcome> {
  const pool = newPool(
    opts.urls.map((u) => new URL(u).origin),
    opts.concurrency,
  );
  try {
    const r = await closedLoop({
      concurrency: opts.concurrency,
      warmupMs: 0,
      durationMs: opts.seconds * 1000,
      fire: requester(pool, opts),
    });
    return {
      driver: 'undici',
      ops: r.requests,
      seconds: r.seconds,
      errors: r.errors,
      firstError: r.firstError,
      p50Ms: r.p50,
      p99Ms: r.p99,
    };
  } finally {
    await pool.close();
  }
}

/**
 * One operation after the other until `seconds` passed and at least `minRuns` were made. `fn`
 * answers the bytes it moved (0 for a tag move); a failure ends the loop, since what follows a
 * failed push or move would measure something else.
 */
export async function sequentialLoad(
  seconds: number,
  minRuns: number,
  fn: (i: number) => Promise<number>,
  maxRuns = Infinity,
): Promise<LoadOutcome> {
  const latencies: number[] = [];
  let bytes = 0;
  const t0 = performance.now();
  let firstError: string | undefined;
  while (
    latencies.length < maxRuns &&
    (latencies.length < minRuns || performance.now() - t0 < seconds * 1000)
  ) {
    const a = performance.now();
    try {
      bytes += await fn(latencies.length);
    } catch (e) {
      firstError = (e as Error).message;
      break;
    }
    latencies.push(performance.now() - a);
  }
  return {
    driver: 'loop',
    ops: latencies.length,
    bytes,
    seconds: (performance.now() - t0) / 1000,
    errors: firstError ? 1 : 0,
    firstError,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    latencies,
  };
}

/** `n` calls, `concurrency` at a time; throws the first failure (a counting pass must be exact). */
export async function fixedCount(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return n;
}
