/**
 * The soak's pulling load: wrk with a Lua script that cycles over three paths and prints its
 * figures as one JSON line. With several target URLs (the distributed shape's gateways) wrk's own
 * threads are spread over them, thread i to target i mod n: one process, one latency histogram,
 * and no proxy spending the cores the registry needs.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PULL_ACCEPT } from './client';
import { tempDir } from './processes';

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

export interface WrkTarget {
  host: string;
  port: string;
}

export function wrkTargets(urls: string[]): WrkTarget[] {
  return urls.map((u) => {
    const url = new URL(u);
    return { host: url.hostname, port: url.port || (url.protocol === 'https:' ? '443' : '80') };
  });
}

/**
 * wrk threads for `targets`: at least `threads`, a multiple of the target count so that each
 * target gets as many threads (and, wrk splitting connections evenly over threads, as many
 * connections) as the others.
 */
export function wrkThreads(threads: number, targets: number, connections: number): number {
  const t = Math.ceil(Math.max(1, threads) / targets) * targets;
  if (t > connections) {
    throw new Error(`${connections} connections cannot be spread over ${targets} targets with ${t} threads`);
  }
  return t;
}

/** wrk's `setup` hook: thread i goes to target i mod n, with that target's Host header. */
export function wrkSetupLua(targets: WrkTarget[]): string {
  const list = targets.map((t) => `{ ${JSON.stringify(t.host)}, ${JSON.stringify(t.port)} }`).join(', ');
  return `
local targets = { ${list} }
local assigned = 0
function setup(thread)
  local t = targets[(assigned % #targets) + 1]
  assigned = assigned + 1
  thread.addr = wrk.lookup(t[1], t[2])[1]
  thread:set('host', t[1] .. ':' .. t[2])
end
`;
}

/** wrk's `done` hook: the figures as one JSON line, which parseWrk reads. */
export const WRK_DONE_LUA = `function done(s, l)
  local e = s.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}\\n',
    s.requests, s.duration, e.connect, e.read, e.write, e.status, e.timeout,
    l:percentile(50), l:percentile(90), l:percentile(99), l:percentile(99.9), l.max))
end
`;

/**
 * The soak's pulls: each connection cycles through a manifest by tag, by digest and a blob. `setup`
 * runs once per thread before any starts. Latencies come in microseconds; anything over --timeout
 * is not in the histogram but in `timeout` (which is why a max of 1.99 s can show).
 */
export function wrkScript(targets: WrkTarget[]): string {
  return `${wrkSetupLua(targets)}local paths, accept, n = {}, '', 0
function init(args)
  paths = { args[1], args[2], args[3] }
  accept = args[4]
  n = math.random(0, 2)
end
function request()
  n = n + 1
  return wrk.format('GET', paths[(n % 3) + 1], { ['Host'] = host, ['Accept'] = accept })
end
${WRK_DONE_LUA}`;
}

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

export function runWrk(opts: {
  urls: string[];
  paths: [string, string, string];
  connections: number;
  threads: number;
  seconds: number;
}): Promise<WrkResult> {
  const targets = wrkTargets(opts.urls);
  const threads = wrkThreads(opts.threads, targets.length, opts.connections);
  const dir = tempDir('wharf-soak-');
  const script = join(dir, 'soak.lua');
  writeFileSync(script, wrkScript(targets));
  const args = [
    `-t${threads}`,
    `-c${opts.connections}`,
    `-d${opts.seconds}s`,
    '--timeout',
    '2s',
    '-s',
    script,
    opts.urls[0],
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
