/**
 * `npm run bench:soak`: pulls and pushes at once for a long time, the load a registry in front of a
 * cluster sees while CI pushes. 256 connections (wrk) pull a manifest by tag, the same manifest by
 * digest and a small blob in turn, while 4 clients push 1–8 MiB images in a loop. What it reports
 * is what a stalled node notices: requests slower than 2 s (wrk counts them as timeouts), socket
 * errors and non-2xx answers, the pull p99, failed pushes, and the registry's RSS growth.
 *
 *   npm run bench:soak -- [--duration 600] [--baseline distribution] [--json FILE]
 *       starts the all-in-one from dist (and Distribution 2.8 after it, one at a time) itself
 *   npm run bench:soak -- --target URL [--target-pid PID] ...
 *       any running registry
 *
 * The targets (docs/performance.md) are checked and printed; `--check` makes a miss the exit status,
 * and `--smoke` is CI's run: 10 s, 32 connections, only errors fail it, never a timing.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MiB, Content, formatBytes } from './content';
import { layerOf, makeImage, PULL_ACCEPT, RegistryClient } from './client';
import { startDistribution, startWharf, tempDir, type Server } from './processes';
import { readStatus } from './rss';
import { percentile } from './stats';

export const SOAK_USAGE = `usage: npm run bench:soak -- [options]

  --target URL         registry under test (default: start the all-in-one from dist)
  --target-pid PID     its process, for RSS (default: the started one's)
  --baseline distribution   also soak Distribution 2.8 (/usr/bin/docker-registry), after the target
  --duration SECONDS   length of the load (default 600)
  --connections N      pulling connections (default 256)
  --pushers N          clients pushing 1–8 MiB images in a loop (default 4)
  --threads N          wrk threads (default 2)
  --json FILE          write the results as JSON
  --check              exit 1 when a target is missed (zero requests over 2 s, zero socket errors,
                       zero failed pushes, p99 <= 250 ms, RSS growth <= 100 MiB)
  --smoke              CI: 10 s, 32 connections, 2 pushers; fails on errors only
`;

/** What the issue asks of a registry under this load. */
export const SOAK_TARGETS = { p99Ms: 250, rssGrowthMiB: 100 } as const;

export interface WrkResult {
  requests: number;
  seconds: number;
  connect: number;
  read: number;
  write: number;
  /** Answers with a status above 399. */
  status: number;
  /** Requests that took longer than wrk's --timeout (2 s). */
  timeout: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export interface SoakResult {
  label: string;
  url: string;
  pulls: WrkResult & { perSecond: number };
  pushes: {
    ok: number;
    failed: number;
    bytes: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    errors: string[];
  };
  rss?: { startMiB: number; peakMiB: number; endMiB: number; growthMiB: number };
}

/**
 * wrk's `done` hook prints one JSON line. Latencies come in microseconds; anything over --timeout is
 * not in the histogram but in `timeout` (which is why the run showed a max of 1.99 s).
 */
const WRK_SCRIPT = `
local paths, accept, n = {}, '', 0
function init(args)
  paths = { args[1], args[2], args[3] }
  accept = args[4]
  n = math.random(0, 2)
end
function request()
  n = n + 1
  return wrk.format('GET', paths[(n % 3) + 1], { ['Accept'] = accept })
end
function done(s, l)
  local e = s.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}\\n',
    s.requests, s.duration, e.connect, e.read, e.write, e.status, e.timeout,
    l:percentile(50), l:percentile(90), l:percentile(99), l:percentile(99.9), l.max))
end
`;

export function parseWrk(output: string): WrkResult {
  const line = output.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) throw new Error(`wrk printed no result:\n${output.slice(-2000)}`);
  const j = JSON.parse(line.slice('WRK_JSON '.length)) as Record<string, number>;
  const ms = (us: number) => us / 1000;
  return {
    requests: j.requests,
    seconds: j.us / 1e6,
    connect: j.connect,
    read: j.read,
    write: j.write,
    status: j.status,
    timeout: j.timeout,
    p50Ms: ms(j.p50),
    p90Ms: ms(j.p90),
    p99Ms: ms(j.p99),
    p999Ms: ms(j.p999),
    maxMs: ms(j.max),
  };
}

function runWrk(opts: {
  url: string;
  paths: [string, string, string];
  connections: number;
  threads: number;
  seconds: number;
}): Promise<WrkResult> {
  const dir = tempDir('wharf-soak-');
  const script = join(dir, 'soak.lua');
  writeFileSync(script, WRK_SCRIPT);
  const args = [
    `-t${opts.threads}`,
    `-c${opts.connections}`,
    `-d${opts.seconds}s`,
    '--timeout',
    '2s',
    '-s',
    script,
    opts.url,
    '--',
    ...opts.paths,
    PULL_ACCEPT,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', (e) =>
      reject(new Error(`cannot run wrk (apt-get install wrk): ${(e as Error).message}`)),
    );
    child.once('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) return reject(new Error(`wrk exited ${code}:\n${out.slice(-2000)}`));
      try {
        resolve(parseWrk(out));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

/** The pulled repository: one image with a small layer, what 256 nodes starting a pod fetch. */
async function seed(client: RegistryClient, run: string): Promise<[string, string, string]> {
  const repo = `soak-${run}/pull`;
  const layer = new Content(`soak-${run}-small`, 16 * 1024);
  const image = makeImage(`soak-${run}`, [layerOf(layer)]);
  await client.pushImage(repo, 'latest', image, new Map([[layer.digest(), layer]]));
  return [
    `/v2/${repo}/manifests/latest`,
    `/v2/${repo}/manifests/${image.digest}`,
    `/v2/${repo}/blobs/${layer.digest()}`,
  ];
}

/** One pusher: new content every time (nothing to mount or skip), 1–8 MiB in 1–3 layers. */
async function pushLoop(
  client: RegistryClient,
  id: string,
  until: () => boolean,
  record: (ms: number, bytes: number, err?: unknown) => void,
): Promise<void> {
  for (let n = 0; !until(); n++) {
    const total = (1 + Math.floor(Math.random() * 8)) * MiB;
    const count = 1 + Math.floor(Math.random() * 3);
    const layers = Array.from(
      { length: count },
      (_, i) => new Content(`${id}-${n}-${i}`, Math.floor(total / count)),
    );
    const image = makeImage(`${id}-${n}`, layers.map(layerOf));
    const started = performance.now();
    try {
      await client.pushImage(`${id}/img`, `t${n}`, image, new Map(layers.map((l) => [l.digest(), l])));
      record(performance.now() - started, total);
    } catch (err) {
      record(performance.now() - started, 0, err);
    }
  }
}

export async function soak(opts: {
  label: string;
  url: string;
  pid?: number;
  seconds: number;
  connections: number;
  pushers: number;
  threads: number;
  log: (line: string) => void;
}): Promise<SoakResult> {
  const run = randomBytes(3).toString('hex');
  const seeder = new RegistryClient(opts.url, 4);
  const paths = await seed(seeder, run).finally(() => seeder.close());
  // A short warm-up so the RSS baseline is a registry that has served, not one that just started.
  await runWrk({ url: opts.url, paths, connections: opts.connections, threads: opts.threads, seconds: 3 });
  const rssStart = opts.pid ? readStatus(opts.pid, 'VmRSS') : undefined;
  let rssPeak = rssStart ?? 0;
  const sampler = opts.pid
    ? setInterval(() => (rssPeak = Math.max(rssPeak, readStatus(opts.pid!, 'VmRSS') ?? 0)), 200)
    : undefined;

  let done = false;
  const pushMs: number[] = [];
  const pushErrors: string[] = [];
  let pushBytes = 0;
  let failed = 0;
  const clients = Array.from({ length: opts.pushers }, () => new RegistryClient(opts.url, 4));
  const pushers = clients.map((c, i) =>
    pushLoop(
      c,
      `soak-${run}/push-${i}`,
      () => done,
      (ms, bytes, err) => {
        if (err === undefined) {
          pushMs.push(ms);
          pushBytes += bytes;
        } else {
          failed++;
          if (pushErrors.length < 5) pushErrors.push(String((err as Error).message ?? err));
        }
      },
    ),
  );
  opts.log(
    `${opts.label}: ${opts.connections} connections pulling, ${opts.pushers} pushing, ${opts.seconds} s`,
  );
  let pulls: WrkResult;
  try {
    pulls = await runWrk({
      url: opts.url,
      paths,
      connections: opts.connections,
      threads: opts.threads,
      seconds: opts.seconds,
    });
  } finally {
    done = true;
    await Promise.all(pushers);
    await Promise.all(clients.map((c) => c.close()));
    if (sampler) clearInterval(sampler);
  }
  const rssEnd = opts.pid ? readStatus(opts.pid, 'VmRSS') : undefined;
  const mib = (b: number) => Math.round((b / MiB) * 10) / 10;
  return {
    label: opts.label,
    url: opts.url,
    pulls: { ...pulls, perSecond: pulls.requests / pulls.seconds },
    pushes: {
      ok: pushMs.length,
      failed,
      bytes: pushBytes,
      p50Ms: pushMs.length ? percentile(pushMs, 50) : 0,
      p99Ms: pushMs.length ? percentile(pushMs, 99) : 0,
      maxMs: pushMs.length ? Math.max(...pushMs) : 0,
      errors: pushErrors,
    },
    rss:
      rssStart !== undefined && rssEnd !== undefined
        ? {
            startMiB: mib(rssStart),
            peakMiB: mib(Math.max(rssPeak, rssEnd)),
            endMiB: mib(rssEnd),
            growthMiB: mib(Math.max(rssPeak, rssEnd) - rssStart),
          }
        : undefined,
  };
}

/**
 * The misses, in words; empty when every target is met. `timings: false` (the smoke run on a CI
 * machine nobody keeps quiet) checks errors only: a request over 2 s is a timing.
 */
export function misses(r: SoakResult, timings = true): string[] {
  const out: string[] = [];
  const p = r.pulls;
  if (timings && p.timeout) out.push(`${p.timeout} requests over 2 s`);
  const socket = p.connect + p.read + p.write;
  if (socket) out.push(`${socket} socket errors (connect ${p.connect}, read ${p.read}, write ${p.write})`);
  if (p.status) out.push(`${p.status} answers with an error status`);
  if (r.pushes.failed) out.push(`${r.pushes.failed} failed pushes: ${r.pushes.errors[0] ?? ''}`);
  if (!r.pushes.ok) out.push('no push completed');
  if (timings && p.p99Ms > SOAK_TARGETS.p99Ms) out.push(`pull p99 ${p.p99Ms} ms > ${SOAK_TARGETS.p99Ms} ms`);
  if (timings && r.rss && r.rss.growthMiB > SOAK_TARGETS.rssGrowthMiB)
    out.push(`RSS growth ${r.rss.growthMiB} MiB > ${SOAK_TARGETS.rssGrowthMiB} MiB`);
  return out;
}

export function report(results: SoakResult[]): string {
  const rows: [string, (r: SoakResult) => string][] = [
    ['pulls/s', (r) => r.pulls.perSecond.toFixed(0)],
    ['pull p50 / p99 / p99.9 (ms)', (r) => `${r.pulls.p50Ms} / ${r.pulls.p99Ms} / ${r.pulls.p999Ms}`],
    ['pull max (ms, below 2 s)', (r) => String(r.pulls.maxMs)],
    ['requests over 2 s', (r) => String(r.pulls.timeout)],
    ['socket errors (connect/read/write)', (r) => `${r.pulls.connect}/${r.pulls.read}/${r.pulls.write}`],
    ['error answers', (r) => String(r.pulls.status)],
    ['pushes ok / failed', (r) => `${r.pushes.ok} / ${r.pushes.failed}`],
    ['pushed', (r) => formatBytes(r.pushes.bytes - (r.pushes.bytes % MiB))],
    ['push p50 / p99 (ms)', (r) => `${r.pushes.p50Ms.toFixed(0)} / ${r.pushes.p99Ms.toFixed(0)}`],
    ['RSS start / peak (MiB)', (r) => (r.rss ? `${r.rss.startMiB} / ${r.rss.peakMiB}` : 'n/a')],
    ['RSS growth (MiB)', (r) => (r.rss ? String(r.rss.growthMiB) : 'n/a')],
  ];
  const header = ['', ...results.map((r) => r.label)];
  const lines = [header, ...rows.map(([name, f]) => [name, ...results.map(f)])];
  if (results.length === 2) {
    const [a, b] = results;
    lines.push(['pulls/s ratio', `${(a.pulls.perSecond / b.pulls.perSecond).toFixed(2)}x`, '']);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  return lines
    .map((l) =>
      l
        .map((c, i) => (c ?? '').padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      target: { type: 'string' },
      'target-pid': { type: 'string' },
      baseline: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      pushers: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'string' },
      check: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(SOAK_USAGE);
    return 0;
  }
  if (values.baseline !== undefined && values.baseline !== 'distribution') {
    throw new Error(`--baseline: only "distribution" is known\n\n${SOAK_USAGE}`);
  }
  const smoke = values.smoke ?? false;
  const num = (s: string | undefined, dflt: number) => (s === undefined ? dflt : Number(s));
  const common = {
    seconds: num(values.duration, smoke ? 10 : 600),
    connections: num(values.connections, smoke ? 32 : 256),
    pushers: num(values.pushers, smoke ? 2 : 4),
    threads: num(values.threads, 2),
    log: (line: string) => console.error(line),
  };
  const results: SoakResult[] = [];
  const withServer = async (start: () => Promise<Server>, label: string) => {
    const server = await start();
    try {
      results.push(await soak({ ...common, label, url: server.url, pid: server.pid }));
    } finally {
      await server.stop();
      rmSync(server.dir, { recursive: true, force: true });
    }
  };
  if (values.target) {
    results.push(
      await soak({
        ...common,
        label: 'target',
        url: values.target,
        pid: num(values['target-pid'], NaN) || undefined,
      }),
    );
  } else {
    await withServer(
      () => startWharf({ main: join(__dirname, '../../../apps/registry/src/main.js') }),
      'Wharf',
    );
  }
  if (values.baseline === 'distribution') await withServer(() => startDistribution({}), 'Distribution');
  console.log(report(results));
  if (values.json) writeFileSync(values.json, JSON.stringify({ options: common, results }, null, 2) + '\n');
  const missed = misses(results[0], !smoke);
  if (missed.length) console.log(`\n${results[0].label} missed: ${missed.join('; ')}`);
  else console.log(`\n${results[0].label} met every ${smoke ? 'error ' : ''}target`);
  return missed.length && (values.check || smoke) ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(2);
    },
  );
}
