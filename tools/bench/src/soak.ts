/**
 * `npm run bench:soak`: pulls and pushes at once for a long time, the load a registry in front of a
 * cluster sees while CI pushes. 256 connections (wrk) pull a manifest by tag, the same manifest by
 * digest and a small blob in turn, while 4 clients push 1–8 MiB images in a loop. What it reports
 * is what a stalled node notices: requests slower than 2 s (wrk counts them as timeouts), socket
 * errors and non-2xx answers, the pull p99, failed pushes, and each server process's RSS growth.
 *
 *   npm run bench:soak -- [--duration 600] [--baseline distribution] [--json FILE]
 *       starts the all-in-one from dist (and Distribution 2.8 after it, one at a time) itself
 *   npm run bench:soak -- --distributed [--gateways 2] [--metadata 1]
 *       starts the distributed shape instead; connections and pushers are spread over the gateways
 *   npm run bench:soak -- --target URL[,URL…] [--target-pid PID] ...
 *       any running registry
 *
 * The targets (soak-report.ts, docs/performance.md) are checked and printed; `--check` makes a miss
 * the exit status, and `--smoke` is CI's run: 10 s, 32 connections, only errors fail it, never a timing.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { layerOf, makeImage, RegistryClient, splitUrls } from './client';
import { Content, MiB } from './content';
import { shapeLabel, startDistributed } from './distributed';
import type { Proc } from './model';
import { serverProcesses, startDistribution, startWharf, type Server } from './processes';
import { RssGroup } from './rss';
import { parseSoakOptions, SOAK_USAGE } from './soak-options';
import { misses, report, type SoakResult } from './soak-report';
import { runWrk, type WrkResult } from './soak-wrk';
import { percentile } from './stats';

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

/**
 * `urls`: one registry's URLs (its gateways). The pull connections are spread over them by wrk's
 * threads and pusher i pushes through URL i mod n; the pulled image is pushed through the first,
 * so every other gateway's pulls read what another gateway wrote.
 */
export async function soak(opts: {
  label: string;
  urls: string[];
  processes: Proc[];
  seconds: number;
  connections: number;
  pushers: number;
  threads: number;
  log: (line: string) => void;
}): Promise<SoakResult> {
  const run = randomBytes(3).toString('hex');
  const { urls, connections, threads } = opts;
  const seeder = new RegistryClient(urls[0], 4);
  const paths = await seed(seeder, run).finally(() => seeder.close());
  // A short warm-up so the RSS baseline is a registry that has served, not one that just started.
  await runWrk({ urls, paths, connections, threads, seconds: 3 });
  const sampler = new RssGroup(opts.processes, 200).start();

  let done = false;
  const pushMs: number[] = [];
  const pushErrors: string[] = [];
  let pushBytes = 0;
  let failed = 0;
  const clients = Array.from(
    { length: opts.pushers },
    (_, i) => new RegistryClient(urls[i % urls.length], 4),
  );
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
  const over = urls.length > 1 ? ` over ${urls.length} gateways` : '';
  opts.log(
    `${opts.label}: ${connections} connections pulling, ${opts.pushers} pushing${over}, ${opts.seconds} s`,
  );
  let pulls: WrkResult;
  let readings: ReturnType<RssGroup['stop']>;
  try {
    pulls = await runWrk({ urls, paths, connections, threads, seconds: opts.seconds });
  } finally {
    done = true;
    await Promise.all(pushers);
    await Promise.all(clients.map((c) => c.close()));
    readings = sampler.stop();
  }
  const mib = (b: number) => Math.round((b / MiB) * 10) / 10;
  return {
    label: opts.label,
    url: urls.join(','),
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
    rss: readings.length
      ? readings
          .filter((r) => Number.isFinite(r.before) && Number.isFinite(r.after))
          .map((r) => ({
            name: r.name,
            startMiB: mib(r.before),
            peakMiB: mib(Math.max(r.peak, r.after)),
            endMiB: mib(r.after),
            growthMiB: mib(Math.max(r.peak, r.after) - r.before),
          }))
      : undefined,
  };
}

async function main(): Promise<number> {
  const o = parseSoakOptions(process.argv.slice(2));
  if (o.help) {
    console.log(SOAK_USAGE);
    return 0;
  }
  const common = {
    seconds: o.seconds,
    connections: o.connections,
    pushers: o.pushers,
    threads: o.threads,
    log: (line: string) => console.error(line),
  };
  const results: SoakResult[] = [];
  const withServer = async (start: () => Promise<Server>, label: string) => {
    const server = await start();
    try {
      const urls = splitUrls(server.url);
      results.push(await soak({ ...common, label, urls, processes: serverProcesses(server) }));
    } finally {
      await server.stop();
      rmSync(server.dir, { recursive: true, force: true });
    }
  };
  const dist = join(__dirname, '../../..');
  if (o.target) {
    results.push(await soak({ ...common, label: 'target', urls: o.target, processes: o.targetProcesses }));
  } else if (o.distributed) {
    const replicas = o.distributed;
    await withServer(() => startDistributed({ apps: join(dist, 'apps'), replicas }), shapeLabel(replicas));
  } else {
    await withServer(() => startWharf({ main: join(dist, 'apps/registry/src/main.js') }), 'Wharf');
  }
  if (o.baseline === 'distribution') await withServer(() => startDistribution({}), 'Distribution');
  console.log(report(results));
  if (o.json) {
    const options = { ...common, log: undefined, distributed: o.distributed };
    writeFileSync(o.json, JSON.stringify({ options, results }, null, 2) + '\n');
  }
  const missed = misses(results[0], !o.smoke);
  if (missed.length) console.log(`\n${results[0].label} missed: ${missed.join('; ')}`);
  else console.log(`\n${results[0].label} met every ${o.smoke ? 'error ' : ''}target`);
  return missed.length && (o.check || o.smoke) ? 1 : 0;
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
