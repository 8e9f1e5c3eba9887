/**
 * `npm run bench:proxy`: what Wharf's pull-through cache costs a pull. Distribution 2.8 (Debian's
 * /usr/bin/docker-registry, on the filesystem) is the upstream, seeded with images of random layers;
 * Wharf (all-in-one, or --distributed) starts on a fresh data dir and database with
 * WHARF_PROXY_CONFIG naming it as upstream `upstream`. Each round pulls, like `docker pull`:
 *
 *   direct  image i straight from Distribution
 *   cold    image i through Wharf (`upstream/<repo>`), which does not hold it yet
 *   warm    image i through Wharf again, now cached
 *   local   an image of the same sizes pushed to Wharf itself
 *
 * cold and direct, warm and local swap places every other round (warm always follows cold), so that
 * drift on the machine hits both sides of a ratio alike; dirty pages are flushed (untimed) before
 * every pull. One untimed round first warms every path (JIT, connections, the upstream's caches).
 * Options: PROXY_PULL_USAGE (proxy-pull-options.ts).
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RegistryClient, splitUrls } from './client';
import { MiB, formatBytes } from './content';
import { settleDisk } from './disk';
import { shapeLabel, startDistributed, ONE_EACH } from './distributed';
import { startDistribution, startWharf, tempDir, type Server } from './processes';
import { RateLimitedLink } from './rate-limited-link';
import { pullImage, scrapeCounter, seedImage, type SeededImage } from './proxy-pull-client';
import { PROXY_PULL_USAGE, parseProxyPullOptions, type ProxyPullOptions } from './proxy-pull-options';
import { machine } from './report';
import { median } from './stats';

const UPSTREAM = 'upstream';
const ROWS = ['direct', 'cold', 'warm', 'local'] as const;
type Row = (typeof ROWS)[number];
const GOAL = 1.1;
const UPSTREAM_BYTES = 'wharf_proxy_upstream_bytes_total';

const log = (line: string) => console.error(line);
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

interface RowSamples {
  seconds: number[];
  bytes: number[];
  mbps: number[];
  /** Blob bytes Wharf fetched from the upstream during the pull (its metric), for cold and warm. */
  upstreamBytes: number[];
  /** Per pull, milliseconds: manifest GET, longest wait for a blob's first byte, for its last chunk. */
  phases: { manifest: number; firstByte: number; lastChunk: number }[];
  errors: string[];
}

interface Ctx {
  o: ProxyPullOptions;
  distUrl: string;
  wharfUrl: string;
  upstream: SeededImage[];
  local: SeededImage[];
}

/** What row `row` pulls in the round that uses image `i`. */
function pullOf(ctx: Ctx, row: Row, i: number): { url: string; repo: string; img: SeededImage } {
  const up = ctx.upstream[i];
  if (row === 'direct') return { url: ctx.distUrl, repo: up.repo, img: up };
  if (row === 'local') return { url: ctx.wharfUrl, repo: ctx.local[i].repo, img: ctx.local[i] };
  return { url: ctx.wharfUrl, repo: `${UPSTREAM}/${up.repo}`, img: up };
}

/** Even rounds: direct before cold, local before warm; odd rounds the other way round. */
function roundOrder(round: number): Row[] {
  return round % 2 === 0 ? ['direct', 'cold', 'local', 'warm'] : ['cold', 'direct', 'warm', 'local'];
}

async function runRound(ctx: Ctx, round: number, i: number, samples?: Record<Row, RowSamples>) {
  const label = samples ? `round ${round + 1}` : 'warm-up';
  let coldFailed = false;
  for (const row of roundOrder(round)) {
    if (row === 'warm' && coldFailed) {
      samples?.warm.errors.push(`${label}: not measured, the cold pull failed`);
      continue;
    }
    const { url, repo, img } = pullOf(ctx, row, i);
    settleDisk();
    const proxied = row === 'cold' || row === 'warm';
    const before = proxied ? await scrapeCounter(ctx.wharfUrl, UPSTREAM_BYTES) : undefined;
    try {
      const r = await pullImage(url, repo, img.tag, img.image, ctx.o.downloads);
      const after = proxied ? await scrapeCounter(ctx.wharfUrl, UPSTREAM_BYTES) : undefined;
      const fetched = before !== undefined && after !== undefined ? after - before : undefined;
      const mbps = r.bytes / 1e6 / r.seconds;
      const phases = {
        manifest: r.manifestSeconds * 1000,
        firstByte: r.firstByteSeconds * 1000,
        lastChunk: r.lastChunkSeconds * 1000,
      };
      if (samples) {
        samples[row].seconds.push(r.seconds);
        samples[row].bytes.push(r.bytes);
        samples[row].mbps.push(mbps);
        if (fetched !== undefined) samples[row].upstreamBytes.push(fetched);
        samples[row].phases.push(phases);
      }
      const extra = fetched !== undefined ? `  ${mib(fetched)} from the upstream` : '';
      log(
        `  ${label.padEnd(9)} ${row.padEnd(6)} ${repo}:${img.tag}  ${r.seconds.toFixed(3)} s  ${mbps.toFixed(0)} MB/s  (ms: manifest ${phases.manifest.toFixed(0)}, first byte ${phases.firstByte.toFixed(0)}, last chunk ${phases.lastChunk.toFixed(0)})${extra}`,
      );
    } catch (e) {
      if (row === 'cold') coldFailed = true;
      const msg = `${label}: ${(e as Error).message ?? String(e)}`;
      // The warm-up proves every path works: a failure there ends the run rather than six more.
      if (!samples) throw new Error(`${row} pull failed in the warm-up round: ${msg}`);
      samples[row].errors.push(msg);
      log(`  ! ${row}: ${msg}`);
    }
  }
}

interface Summary {
  seconds?: number;
  mbps?: number;
  upstreamBytes?: number;
  manifestMs?: number;
  firstByteMs?: number;
  lastChunkMs?: number;
}

function summarize(s: RowSamples): Summary {
  if (!s.seconds.length) return {};
  // MB/s of the median pull, not the median of the rates: with an even count they are not one pull.
  const seconds = median(s.seconds);
  return {
    seconds,
    mbps: median(s.bytes) / 1e6 / seconds,
    upstreamBytes: s.upstreamBytes.length ? median(s.upstreamBytes) : undefined,
    manifestMs: median(s.phases.map((p) => p.manifest)),
    firstByteMs: median(s.phases.map((p) => p.firstByte)),
    lastChunkMs: median(s.phases.map((p) => p.lastChunk)),
  };
}

function ratio(a: Summary, b: Summary): number | undefined {
  return a.seconds !== undefined && b.seconds ? a.seconds / b.seconds : undefined;
}

const WHAT: Record<Row, string> = {
  direct: 'straight from Distribution 2.8',
  cold: 'through Wharf, not cached yet',
  warm: 'through Wharf again, cached',
  local: 'pushed to Wharf, pulled from it',
};

function table(o: ProxyPullOptions, shape: string, sums: Record<Row, Summary>, imageBytes: number): string {
  const fmt = (v: number | undefined, digits: number) => (v === undefined ? '—' : v.toFixed(digits));
  const ms = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(0)} ms`);
  const lines = [
    `Pull-through cache, ${shape}: median of ${o.rounds} round(s); each image ${o.layers} × ` +
      `${formatBytes(o.layerSize)} + config (${(imageBytes / 1e6).toFixed(1)} MB), ${o.downloads} downloads at a time`,
    '',
    `${'row'.padEnd(8)}${'what'.padEnd(34)}${'seconds'.padStart(9)}${'MB/s'.padStart(7)}` +
      `${'manifest'.padStart(10)}${'1st byte'.padStart(10)}${'last chunk'.padStart(12)}  from upstream`,
  ];
  for (const row of ROWS) {
    const s = sums[row];
    const up =
      s.upstreamBytes === undefined ? (row === 'cold' || row === 'warm' ? '?' : '') : mib(s.upstreamBytes);
    lines.push(
      `${row.padEnd(8)}${WHAT[row].padEnd(34)}${fmt(s.seconds, 3).padStart(9)}${fmt(s.mbps, 0).padStart(7)}` +
        `${ms(s.manifestMs).padStart(10)}${ms(s.firstByteMs).padStart(10)}${ms(s.lastChunkMs).padStart(12)}  ${up}`,
    );
  }
  lines.push(
    '(manifest: its GET; 1st byte / last chunk: the longest wait of a blob GET for its first byte, and',
    'for its last chunk after the one before; from upstream: blob bytes Wharf fetched during the pull)',
    '',
  );
  for (const [name, r, goal] of goals(sums)) {
    const met = r === undefined ? 'not measured' : r <= GOAL ? 'met' : 'MISSED';
    lines.push(
      `${name.padEnd(14)}${(r === undefined ? '—' : `${r.toFixed(2)}x`).padStart(7)}  goal ${goal.padEnd(16)} ${met}`,
    );
  }
  return lines.join('\n');
}

function goals(sums: Record<Row, Summary>): [string, number | undefined, string][] {
  return [
    ['cold / direct', ratio(sums.cold, sums.direct), `≤ ${GOAL.toFixed(2)}`],
    ['warm / local', ratio(sums.warm, sums.local), `≈ 1.0 (≤ ${GOAL.toFixed(2)})`],
  ];
}

function versionOf(cmd: string, args: string[], cwd?: string): string | undefined {
  try {
    return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return undefined;
  }
}

async function seedAll(o: ProxyPullOptions, url: string, what: 'upstream' | 'local', n: number, run: string) {
  const client = new RegistryClient(url, 8);
  const out: SeededImage[] = [];
  try {
    for (let i = 0; i < n; i++) {
      // Upstream images live in repositories of their own, as distinct images do; locals likewise.
      const repo = what === 'upstream' ? `bench/img-${i}` : `local/img-${i}`;
      out.push(await seedImage(client, repo, 'latest', `${run}/${what}-${i}`, o.layers, o.layerSize));
    }
  } finally {
    await client.close();
  }
  return out;
}

async function main(): Promise<number> {
  let o: ProxyPullOptions;
  try {
    o = parseProxyPullOptions(process.argv.slice(2), join(__dirname, '../../..'));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${PROXY_PULL_USAGE}`);
    return 2;
  }
  if (o.help) {
    console.log(PROXY_PULL_USAGE);
    return 0;
  }
  const servers: Server[] = [];
  let link: RateLimitedLink | undefined;
  const configDir = tempDir('wharf-bench-proxy-');
  const stopAll = async () => {
    await Promise.all([...servers.map((s) => s.stop()), link?.stop()]);
    if (!o.keep)
      for (const dir of [...servers.map((s) => s.dir), configDir])
        rmSync(dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stopAll().then(() => process.exit(130)));
  }
  const run = randomBytes(4).toString('hex');
  const shape = o.distributed ? shapeLabel(ONE_EACH) : 'Wharf all-in-one';
  try {
    const dist = await startDistribution({ binary: o.distribution });
    servers.push(dist);
    const per = `${o.layers} × ${formatBytes(o.layerSize)}`;
    log(`distribution ${dist.url} data ${dist.dir}: seeding ${o.images} images of ${per}`);
    const upstream = await seedAll(o, dist.url, 'upstream', o.images, run);
    // With --upstream-rate the upstream sits behind one shared link, for direct pulls and Wharf alike.
    if (o.upstreamRate) link = await RateLimitedLink.start(dist.url, o.upstreamRate);
    const upstreamUrl = link?.url ?? dist.url;
    const configFile = join(configDir, 'proxy.yml');
    writeFileSync(configFile, `upstreams:\n  - name: ${UPSTREAM}\n    url: ${upstreamUrl}\n`);
    const env = { WHARF_PROXY_CONFIG: configFile };
    const wharf = o.distributed
      ? await startDistributed({ apps: o.apps, env })
      : await startWharf({ main: o.wharfMain, env });
    servers.push(wharf);
    const wharfUrl = splitUrls(wharf.url)[0];
    log(`${shape} ${wharfUrl} data ${wharf.dir}: pushing ${o.rounds + 1} local images of ${per}`);
    const local = await seedAll(o, wharfUrl, 'local', o.rounds + 1, run);
    const ctx: Ctx = { o, distUrl: upstreamUrl, wharfUrl, upstream, local };

    // Image 0 is the warm-up's; round r pulls image r + 1, which no earlier pull touched.
    await runRound(ctx, 0, 0);
    const samples = Object.fromEntries(
      ROWS.map((r) => [
        r,
        { seconds: [], bytes: [], mbps: [], upstreamBytes: [], phases: [], errors: [] } satisfies RowSamples,
      ]),
    ) as unknown as Record<Row, RowSamples>;
    for (let round = 0; round < o.rounds; round++) await runRound(ctx, round, round + 1, samples);

    const sums = Object.fromEntries(ROWS.map((r) => [r, summarize(samples[r])])) as Record<Row, Summary>;
    console.log(table(o, shape, sums, upstream[0].bytes));
    const errors = ROWS.flatMap((r) => samples[r].errors.map((e) => `${r}: ${e}`));
    if (errors.length) console.log(`\n${errors.length} pull(s) failed:\n  ${errors.join('\n  ')}`);
    const results = goals(sums);
    if (o.json) {
      const root = join(__dirname, '../../../..');
      writeFileSync(
        o.json,
        JSON.stringify(
          {
            machine: machine(),
            commit: versionOf('git', ['rev-parse', '--short', 'HEAD'], root),
            // Figures from a tree with uncommitted changes are not those of the commit alone.
            dirty: !!versionOf('git', ['status', '--porcelain', '--untracked-files=no'], root),
            distribution: versionOf(o.distribution, ['--version']),
            shape,
            options: { ...o, help: undefined, imageBytes: upstream[0].bytes },
            rows: Object.fromEntries(ROWS.map((r) => [r, { ...sums[r], samples: samples[r] }])),
            ratios: Object.fromEntries(results.map(([name, r, goal]) => [name, { value: r, goal }])),
          },
          null,
          2,
        ) + '\n',
      );
    }
    const missed = results.some(([, r]) => r === undefined || r > GOAL);
    return errors.length || (o.check && missed) ? 1 : 0;
  } finally {
    await stopAll();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
