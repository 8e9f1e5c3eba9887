import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import {
  EMPTY_INDEX,
  labelledIndex,
  MT_OCI_INDEX,
  PULL_ACCEPT,
  exchange,
  layerOf,
  makeImage,
  newPool,
  type Image,
} from './client';
import { Content, KiB, formatBytes } from './content';
import type { BenchOptions, Metric, MetricSpec, Side, SideKey } from './model';
import { treeCpuSeconds } from './cpu';
import { RssSampler } from './rss';
import { closedLoop, median, percentile } from './stats';

const MANIFEST_REPO = 'bench/manifest';
const BLOB_REPO = 'bench/blobs';
const PUSH_REPO = 'bench/push';
const TAGS_REPO = 'bench/tags';
const CATALOG_PREFIX = 'bench-catalog';
const RSS_REPO = 'bench/rss';
/** How long one side reads before the next takes its turn, within a blob GET cell. */
const TRANSFER_SLICE_MS = 200;

/**
 * Runs the benchmark sections against the target and, when given, the baseline: every cell runs
 * on each side in turn, the order alternating between rounds so that machine drift hits both.
 */
export class Bench {
  readonly metrics = new Map<string, Metric>();
  private manifestImage?: Image;

  constructor(
    readonly sides: Side[],
    readonly opts: BenchOptions,
    /** Where the bare server's files go (same filesystem as the registries' temp dirs). */
    readonly bareDir?: string,
  ) {}

  private get registries(): Side[] {
    return this.sides.filter((s) => s.key !== 'bare');
  }

  private get bare(): Side | undefined {
    return this.sides.find((s) => s.key === 'bare');
  }

  /** The sides in the order of a round: rotated by one each round. */
  private order<T>(round: number, sides: T[]): T[] {
    const k = round % sides.length;
    return [...sides.slice(k), ...sides.slice(0, k)];
  }

  private metric(spec: MetricSpec): Metric {
    let m = this.metrics.get(spec.id);
    if (!m) {
      m = { ...spec, samples: {}, value: {}, errors: {} };
      this.metrics.set(spec.id, m);
    }
    return m;
  }

  record(spec: MetricSpec, side: SideKey, ...values: number[]): void {
    const m = this.metric(spec);
    (m.samples[side] ??= []).push(...values);
  }

  fail(spec: MetricSpec, side: SideKey, e: unknown): void {
    const m = this.metric(spec);
    m.errors[side] ??= (e as Error)?.message ?? String(e);
    this.opts.log(`  ! ${spec.id} on ${side}: ${m.errors[side]}`);
  }

  finish(): Metric[] {
    for (const m of this.metrics.values()) {
      for (const [side, samples] of Object.entries(m.samples) as [SideKey, number[]][]) {
        if (!samples.length) continue;
        const agg = m.aggregate ?? 'median';
        m.value[side] =
          agg === 'p99'
            ? percentile(samples, 99)
            : agg === 'max'
              ? Math.max(...samples)
              : agg === 'p50'
                ? percentile(samples, 50)
                : median(samples);
      }
    }
    return [...this.metrics.values()];
  }

  async run(): Promise<Metric[]> {
    const s = this.opts.sections;
    await this.setup();
    if (s.has('manifest')) await this.manifests();
    if (s.has('blob-get')) await this.blobGets();
    if (s.has('push')) await this.pushes();
    if (s.has('concurrent')) await this.concurrentPushes();
    if (s.has('listings')) await this.listings();
    if (s.has('rss')) await this.rss();
    return this.finish();
  }

  private async setup(): Promise<void> {
    const layer = new Content('manifest-layer', 2 * KiB);
    this.manifestImage = makeImage('manifest', [layerOf(layer)]);
    const layers = new Map([[layer.digest(), layer]]);
    for (const side of this.registries) {
      await side.client.pushImage(MANIFEST_REPO, 'latest', this.manifestImage, layers);
    }
  }

  // --- manifest GET / HEAD -----------------------------------------------------------------

  private async manifests(): Promise<void> {
    const image = this.manifestImage!;
    const { rounds, concurrencies } = this.opts;
    this.opts.log(`manifest GET/HEAD: ${rounds} rounds × ${this.opts.durationMs} ms per cell`);
    for (let round = 0; round < rounds; round++) {
      for (const method of ['GET', 'HEAD'] as const) {
        for (const by of ['tag', 'digest'] as const) {
          for (const c of concurrencies) {
            const ref = by === 'tag' ? 'latest' : image.digest;
            const path = `/v2/${MANIFEST_REPO}/manifests/${ref}`;
            const base = `manifest.${method}.${by}.c${c}`;
            const name = `${method} by ${by}, c=${c}`;
            const rps: MetricSpec = {
              id: `${base}.rps`,
              section: 'manifest',
              name: `${name}`,
              unit: 'req/s',
              better: 'higher',
              goals: method === 'GET' && by === 'tag' ? [{ kind: 'ratio-min', value: 5 }] : undefined,
            };
            const p50: MetricSpec = {
              id: `${base}.p50`,
              section: 'manifest',
              name: `${name} p50`,
              unit: 'ms',
              better: 'lower',
            };
            const p99: MetricSpec = {
              id: `${base}.p99`,
              section: 'manifest',
              name: `${name} p99`,
              unit: 'ms',
              better: 'lower',
              goals: method === 'GET' && by === 'tag' ? [{ kind: 'ratio-max', value: 1 }] : undefined,
            };
            const cpu: MetricSpec = {
              id: `${base}.cpu`,
              section: 'manifest',
              name: `${name} server CPU per request`,
              unit: 'µs',
              better: 'lower',
            };
            for (const side of this.order(round, this.registries)) {
              try {
                const r = await this.manifestLoad(side, method, path, c, image);
                this.record(rps, side.key, r.rps);
                this.record(p50, side.key, r.p50);
                this.record(p99, side.key, r.p99);
                if (r.probed !== undefined) this.record(cpu, side.key, (r.probed / r.requests) * 1e6);
                this.opts.log(
                  `  r${round} ${side.label.padEnd(12)} ${name.padEnd(22)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms`,
                );
              } catch (e) {
                this.fail(rps, side.key, e);
              }
            }
          }
        }
      }
    }
  }

  private async manifestLoad(side: Side, method: 'GET' | 'HEAD', path: string, c: number, image: Image) {
    const pool = newPool(side.client.origin, c);
    const headers = { accept: PULL_ACCEPT };
    const size = image.manifest.length;
    // undici closes the connection after a HEAD unless told not to; real clients (Go's net/http) keep it.
    const opts: Dispatcher.DispatchOptions = { method, path, headers, reset: false };
    try {
      const r = await closedLoop({
        concurrency: c,
        warmupMs: this.opts.warmupMs,
        durationMs: this.opts.durationMs,
        probe: side.pid ? () => treeCpuSeconds(side.pid!) : undefined,
        fire: async () => {
          const res = await exchange(pool, opts);
          const ok = res.status === 200 && res.headers['content-length'] === String(size);
          return ok && res.bytes === (method === 'HEAD' ? 0 : size);
        },
      });
      if (r.errors)
        throw new Error(`${r.errors} of ${r.requests} answers were wrong (${r.firstError ?? ''})`);
      if (!r.requests) throw new Error(`no answer (${r.firstError ?? 'timeout'})`);
      return r;
    } finally {
      await pool.close();
    }
  }

  // --- blob GET ------------------------------------------------------------------------------

  private async blobGets(): Promise<void> {
    const sizes = this.opts.blobSizes;
    const contents = sizes.map((size) => new Content(`get-${size}`, size));
    this.opts.log(`blob GET: pushing ${sizes.map(formatBytes).join(', ')}`);
    for (const c of contents) {
      for (const side of this.registries) {
        if (!(await side.client.blobExists(BLOB_REPO, c.digest()))) {
          await side.client.pushMonolithic(BLOB_REPO, c);
        }
      }
      if (this.bare && this.bareDir) await writeContent(join(this.bareDir, c.digest().slice(7)), c);
    }
    // The pushes above are still being written out; reads measured during that would be the disk's.
    settleDisk();
    const sides = this.sides;
    for (let round = 0; round < this.opts.rounds; round++) {
      for (const c of contents) {
        for (const ranged of [false, true]) {
          const range: [number, number] | undefined = ranged
            ? [Math.floor(c.size / 4), Math.floor(c.size / 4) + Math.floor(c.size / 2) - 1]
            : undefined;
          const expected = range ? range[1] - range[0] + 1 : c.size;
          const spec: MetricSpec = {
            id: `blob-get.${c.size}.${ranged ? 'range' : 'full'}`,
            section: 'blob GET',
            name: `GET ${formatBytes(c.size)}${ranged ? ', Range (middle half)' : ''}`,
            unit: 'MB/s',
            better: 'higher',
            goals: [
              { kind: 'ratio-min', value: 0.9 },
              { kind: 'bare-min', value: 0.9 },
            ],
          };
          const cpu: MetricSpec = {
            id: `blob-get.${c.size}.${ranged ? 'range' : 'full'}.cpu`,
            section: 'blob GET',
            name: `${spec.name}: server CPU per GB`,
            unit: 'CPU s/GB',
            better: 'lower',
          };
          const path = (side: Side) =>
            side.key === 'bare' ? `/${c.digest().slice(7)}` : `/v2/${BLOB_REPO}/blobs/${c.digest()}`;
          const live: Side[] = [];
          for (const side of this.order(round, sides)) {
            try {
              // One untimed GET first: page cache, connection and JIT are warm for every side alike.
              await side.client.readBlob(path(side), expected, range);
              live.push(side);
            } catch (e) {
              this.fail(spec, side.key, e);
            }
          }
          const totals = await this.interleaved(
            round,
            live,
            (side) => side.client.readBlob(path(side), expected, range),
            (side, e) => this.fail(spec, side.key, e),
          );
          for (const side of live) {
            const t = totals.get(side.key);
            if (!t) continue;
            const mbps = t.bytes / 1e6 / (t.ms / 1000);
            this.record(spec, side.key, mbps);
            if (side.pid) this.record(cpu, side.key, t.cpuSeconds / (t.bytes / 1e9));
            this.opts.log(
              `  r${round} ${side.label.padEnd(12)} ${spec.name.padEnd(34)} ${mbps.toFixed(0).padStart(6)} MB/s`,
            );
          }
        }
      }
    }
  }

  /**
   * Runs `transfer` on every side for the cell's minimum time each, in slices of about
   * TRANSFER_SLICE_MS that take turns (the first side of each turn rotates), so that the machine's
   * drift during a cell (page cache, the other tenant, CPU frequency) hits every side alike instead
   * of whichever side held a whole block of seconds. A side that fails drops out of the cell.
   */
  private async interleaved(
    round: number,
    sides: Side[],
    transfer: (side: Side) => Promise<number>,
    onError: (side: Side, e: unknown) => void,
  ): Promise<Map<SideKey, { bytes: number; ms: number; cpuSeconds: number }>> {
    const totals = new Map(sides.map((s) => [s.key, { bytes: 0, ms: 0, cpuSeconds: 0 }]));
    for (let turn = 0; ; turn++) {
      const due = sides.filter((s) => totals.has(s.key) && totals.get(s.key)!.ms < this.opts.transferMs);
      if (!due.length) return totals;
      for (const side of this.order(round + turn, due)) {
        const t = totals.get(side.key)!;
        try {
          // Read around the slice, not inside it: walking /proc takes ~1.5 ms here.
          const cpu0 = side.pid ? treeCpuSeconds(side.pid) : 0;
          const a = performance.now();
          do t.bytes += await transfer(side);
          while (performance.now() - a < TRANSFER_SLICE_MS);
          t.ms += performance.now() - a;
          if (side.pid) t.cpuSeconds += treeCpuSeconds(side.pid) - cpu0;
        } catch (e) {
          totals.delete(side.key);
          onError(side, e);
        }
      }
    }
  }

  /** Repeats a transfer for the cell's minimum time (at least once); MB/s over the time spent in it. */
  private async transferRate(fn: () => Promise<number>, prepare?: () => void): Promise<number> {
    let bytes = 0;
    let ms = 0;
    const t0 = performance.now();
    for (let i = 0; i < 1 || performance.now() - t0 < this.opts.transferMs; i++) {
      prepare?.();
      const a = performance.now();
      bytes += await fn();
      ms += performance.now() - a;
    }
    return bytes / 1e6 / (ms / 1000);
  }

  // --- push ----------------------------------------------------------------------------------

  private readonly contents = new Map<string, Content>();

  private content(seed: string, size: number): Content {
    let c = this.contents.get(seed);
    if (!c) {
      c = new Content(seed, size);
      this.contents.set(seed, c);
    }
    return c;
  }

  private async pushes(): Promise<void> {
    const { chunkSize, runId } = this.opts;
    this.opts.log(`push: monolithic and chunked (${formatBytes(chunkSize)} chunks), new content each time`);
    for (let round = 0; round < this.opts.rounds; round++) {
      for (const size of this.opts.blobSizes) {
        for (const mode of ['monolithic', 'chunked'] as const) {
          const spec: MetricSpec = {
            id: `push.${mode}.${size}`,
            section: 'push',
            name: `${mode} push ${formatBytes(size)}`,
            unit: 'MB/s',
            better: 'higher',
            goals: [{ kind: 'ratio-min', value: 1 }],
          };
          const cpu: MetricSpec = {
            id: `push.${mode}.${size}.cpu`,
            section: 'push',
            name: `${spec.name}: server CPU per GB`,
            unit: 'CPU s/GB',
            better: 'lower',
          };
          // A registry may answer 201 before the bytes are on disk (Distribution 2.8 never syncs);
          // this one also times the `sync` after the cell, so both sides are measured to durable.
          const durable: MetricSpec = {
            id: `push.${mode}.${size}.durable`,
            section: 'push',
            name: `${spec.name}, until on disk`,
            unit: 'MB/s',
            better: 'higher',
          };
          for (const side of this.order(round, this.registries)) {
            // Both sides push the same new blobs: seeds name run, round and iteration, not the side.
            let i = 0;
            let content!: Content;
            let bytes = 0;
            try {
              // Sampled around the whole cell, not per push: reading the process tree's CPU walks
              // /proc (~1.5 ms here), which inside the timed window would be a third of a 1 MiB push.
              // Between pushes the registry is idle, so the figure is still the pushes' own.
              settleDisk();
              const cpu0 = side.pid ? treeCpuSeconds(side.pid) : 0;
              const mbps = await this.transferRate(
                async () => {
                  if (mode === 'monolithic') await side.client.pushMonolithic(PUSH_REPO, content);
                  else await side.client.pushChunked(PUSH_REPO, content, chunkSize);
                  bytes += content.size;
                  return content.size;
                },
                () => {
                  content = this.content(`push-${mode}-${size}-${runId}-${round}-${i++}`, size);
                  content.digest();
                },
              );
              const cpuSeconds = side.pid ? treeCpuSeconds(side.pid) - cpu0 : 0;
              const synced = performance.now();
              settleDisk();
              const syncSeconds = (performance.now() - synced) / 1000;
              this.record(spec, side.key, mbps);
              if (side.pid) this.record(cpu, side.key, cpuSeconds / (bytes / 1e9));
              this.record(durable, side.key, bytes / 1e6 / (bytes / 1e6 / mbps + syncSeconds));
              this.opts.log(
                `  r${round} ${side.label.padEnd(12)} ${spec.name.padEnd(34)} ${mbps.toFixed(0).padStart(6)} MB/s`,
              );
            } catch (e) {
              this.fail(spec, side.key, e);
            }
          }
        }
      }
    }
    this.contents.clear();
  }

  // --- concurrent pushes -----------------------------------------------------------------------

  private async concurrentPushes(): Promise<void> {
    const { concurrentPushes: n, runId } = this.opts;
    const shared = this.opts.sharedLayerSizes.map((size, i) => new Content(`shared-${i}`, size));
    this.opts.log(
      `concurrent push: ${n} images sharing ${shared.map((c) => formatBytes(c.size)).join(' + ')}, each with a ${formatBytes(this.opts.uniqueLayerSize)} layer of its own`,
    );
    const rate: MetricSpec = {
      id: 'concurrent.images-per-s',
      section: 'concurrent push',
      name: `${n} concurrent image pushes`,
      unit: 'images/s',
      better: 'higher',
      goals: [{ kind: 'ratio-min', value: 1 }],
    };
    const p99: MetricSpec = {
      id: 'concurrent.p99',
      section: 'concurrent push',
      name: `${n} concurrent pushes, p99 per image`,
      unit: 'ms',
      better: 'lower',
    };
    for (let round = 0; round < this.opts.rounds; round++) {
      const images = Array.from({ length: n }, (_, i) => {
        const own = new Content(`unique-${runId}-${round}-${i}`, this.opts.uniqueLayerSize);
        const layers = [...shared, own];
        return {
          image: makeImage(`concurrent-${runId}-${round}-${i}`, layers.map(layerOf)),
          layers: new Map(layers.map((c) => [c.digest(), c])),
        };
      });
      for (const side of this.order(round, this.registries)) {
        const repo = `bench/concurrent-${runId}-r${round}`;
        try {
          settleDisk();
          const times: number[] = [];
          const t0 = performance.now();
          await Promise.all(
            images.map(async ({ image, layers }, i) => {
              const a = performance.now();
              await side.client.pushImage(repo, `image-${i}`, image, layers);
              times.push(performance.now() - a);
            }),
          );
          const s = (performance.now() - t0) / 1000;
          this.record(rate, side.key, n / s);
          this.record(p99, side.key, percentile(times, 99));
          this.opts.log(`  r${round} ${side.label.padEnd(12)} ${n} images in ${s.toFixed(2)} s`);
        } catch (e) {
          this.fail(rate, side.key, e);
        }
      }
    }
  }

  // --- tags list and catalog -------------------------------------------------------------------

  private async listings(): Promise<void> {
    const tiny = new Content('catalog-layer', 512);
    const image = makeImage('catalog', [layerOf(tiny)]);
    const blobs = new Map([[tiny.digest(), tiny]]);
    for (const side of this.registries) {
      await side.client.pushImage(TAGS_REPO, tagName(0), image, blobs);
    }
    const seeded = new Map<SideKey, { tags: number; repos: number }>(
      this.registries.map((s) => [s.key, { tags: 0, repos: 0 }]),
    );
    for (const level of this.opts.listingSizes) {
      for (const side of this.registries) {
        const have = seeded.get(side.key)!;
        have.tags = await this.seed(side, 'tags', have.tags, level, async (i) =>
          side.client.putManifestBytes(TAGS_REPO, tagName(i), MT_OCI_INDEX, labelledIndex(tagName(i))),
        );
        // Two requests per repository: an empty index (it references no blob), and one blob mounted,
        // without which Distribution's catalog does not see the repository (it looks for _layers).
        have.repos = await this.seed(side, 'repositories', have.repos, level, async (i) => {
          const repo = repoName(i);
          if (!(await side.client.mount(repo, tiny.digest(), TAGS_REPO))) throw new Error('mount refused');
          await side.client.putManifestBytes(repo, 'latest', MT_OCI_INDEX, EMPTY_INDEX);
        });
      }
      await this.measurePages(level, seeded);
    }
  }

  /** Brings a side from `from` to `to` entries, unless the budget runs out; answers the count reached. */
  private async seed(
    side: Side,
    what: 'tags' | 'repositories',
    from: number,
    to: number,
    put: (i: number) => Promise<void>,
  ): Promise<number> {
    if (from >= to) return from;
    const probe =
      what === 'tags'
        ? () => side.client.manifestExists(TAGS_REPO, tagName(to - 1))
        : () => side.client.manifestExists(repoName(to - 1), 'latest');
    if (await probe()) {
      this.opts.log(`  ${side.label}: ${to} ${what} already there`);
      return to;
    }
    const spec: MetricSpec = {
      id: `seed.${what}`,
      section: 'seeding (manifest PUT, c=' + this.opts.seedConcurrency + ')',
      name: what === 'tags' ? 'PUT manifest by new tag' : 'new repository (mount + PUT of an empty index)',
      unit: what === 'tags' ? 'PUT/s' : 'repos/s',
      better: 'higher',
    };
    const t0 = performance.now();
    const deadline = t0 + this.opts.seedBudgetS * 1000;
    let next = from;
    let done = from;
    let lastLog = t0;
    const worker = async (): Promise<void> => {
      while (next < to && performance.now() < deadline) {
        const i = next++;
        await put(i);
        done++;
        if (performance.now() - lastLog > 10_000) {
          lastLog = performance.now();
          const rate = (done - from) / ((lastLog - t0) / 1000);
          this.opts.log(`  ${side.label}: ${done}/${to} ${what} (${rate.toFixed(0)}/s)`);
        }
      }
    };
    await Promise.all(Array.from({ length: this.opts.seedConcurrency }, worker));
    const s = (performance.now() - t0) / 1000;
    // Entries were claimed in order, so [0, next) were all put once every worker has returned.
    this.record(spec, side.key, (next - from) / s);
    this.opts.log(
      `  ${side.label}: seeded ${what} ${from}..${next} in ${s.toFixed(1)} s (${((next - from) / s).toFixed(0)}/s)`,
    );
    if (next < to)
      this.opts.log(`  ${side.label}: seed budget of ${this.opts.seedBudgetS} s ran out at ${next} ${what}`);
    return next;
  }

  private async measurePages(level: number, seeded: Map<SideKey, { tags: number; repos: number }>) {
    const { pageSize: n, pagesPerRound: pages, rounds } = this.opts;
    const label = level >= 1000 && level % 1000 === 0 ? `${level / 1000}k` : String(level);
    for (let round = 0; round < rounds; round++) {
      for (const kind of ['tags', 'catalog'] as const) {
        const spec = (agg: 'p50' | 'p99'): MetricSpec => ({
          id: `listing.${kind}.${level}.${agg}`,
          section: 'tags list / catalog',
          name: `${kind === 'tags' ? 'tags list' : 'catalog'}, ${label} entries, n=${n}, ${agg} per page`,
          unit: 'ms',
          better: 'lower',
          aggregate: agg,
          goals: agg === 'p99' && level >= 100_000 ? [{ kind: 'abs-max', value: 50 }] : undefined,
        });
        const entries: MetricSpec = {
          id: `listing.${kind}.${level}.entries`,
          section: 'tags list / catalog',
          name: `${kind === 'tags' ? 'tags list' : 'catalog'}, ${label} entries: entries per page`,
          unit: 'entries',
          better: 'higher',
        };
        for (const side of this.order(round, this.registries)) {
          const have = seeded.get(side.key)!;
          const count = kind === 'tags' ? have.tags : have.repos;
          if (count < level) {
            this.fail(spec('p99'), side.key, new Error(`only ${count} of ${level} entries could be seeded`));
          }
          if (!count) continue;
          const lat: number[] = [];
          const got: number[] = [];
          try {
            // One untimed page first, on every side alike: what follows measures pages, not a cold start.
            await side.client.call(
              'GET',
              kind === 'tags' ? `/v2/${TAGS_REPO}/tags/list?n=${n}` : `/v2/_catalog?n=${n}`,
            );
            const k = Math.min(pages, Math.ceil(count / n));
            for (let p = 0; p < k; p++) {
              // Pages start at offsets spread over the listing, shifted a little each round.
              const offset = Math.floor(((p + round / rounds) * count) / k);
              const last =
                offset === 0 ? undefined : kind === 'tags' ? tagName(offset - 1) : repoName(offset - 1);
              const base = kind === 'tags' ? `/v2/${TAGS_REPO}/tags/list` : '/v2/_catalog';
              const path = `${base}?n=${n}${last ? `&last=${encodeURIComponent(last)}` : ''}`;
              const a = performance.now();
              const r = await side.client.call('GET', path);
              lat.push(performance.now() - a);
              const doc = JSON.parse(r.body.toString()) as { tags?: string[]; repositories?: string[] };
              const items = (kind === 'tags' ? doc.tags : doc.repositories) ?? [];
              if (!items.length) throw new Error(`${path}: empty page`);
              got.push(items.length);
            }
            this.record(spec('p50'), side.key, ...lat);
            this.record(spec('p99'), side.key, ...lat);
            this.record(entries, side.key, ...got);
            this.opts.log(
              `  r${round} ${side.label.padEnd(12)} ${kind.padEnd(8)} ${label.padStart(5)}: ${k} pages, p50 ${percentile(lat, 50).toFixed(1)} ms, p99 ${percentile(lat, 99).toFixed(1)} ms, ${median(got)} entries/page`,
            );
          } catch (e) {
            this.fail(spec('p99'), side.key, e);
          }
        }
      }
    }
  }

  // --- RSS while a big blob streams in and out -------------------------------------------------

  private async rss(): Promise<void> {
    const size = this.opts.rssSize;
    const sides = this.registries.filter((s) => s.pid);
    if (!sides.length) {
      this.opts.log('rss: skipped (no --target-pid / --baseline-pid)');
      return;
    }
    const content = new Content(`rss-${size}-${this.opts.runId}`, size);
    this.opts.log(`rss: hashing ${formatBytes(size)}`);
    content.digest();
    for (const side of sides) {
      for (const phase of ['push', 'pull'] as const) {
        const growth: MetricSpec = {
          id: `rss.${phase}.growth`,
          section: 'memory',
          name: `RSS growth during a ${formatBytes(size)} ${phase}`,
          unit: 'MiB',
          better: 'lower',
          aggregate: 'max',
          goals: [{ kind: 'abs-max', value: 100 }],
        };
        const peak: MetricSpec = {
          id: `rss.${phase}.peak`,
          section: 'memory',
          name: `peak RSS during the ${phase}`,
          unit: 'MiB',
          better: 'lower',
          aggregate: 'max',
        };
        const rate: MetricSpec = {
          id: `rss.${phase}.rate`,
          section: 'memory',
          name: `${formatBytes(size)} ${phase} throughput`,
          unit: 'MB/s',
          better: 'higher',
        };
        try {
          if (phase === 'push') settleDisk();
          const sampler = new RssSampler(side.pid!).start();
          const t0 = performance.now();
          if (phase === 'push') await side.client.pushMonolithic(RSS_REPO, content);
          else await side.client.readBlob(`/v2/${RSS_REPO}/blobs/${content.digest()}`, size);
          const s = (performance.now() - t0) / 1000;
          const r = sampler.stop();
          const mib = (b: number) => b / 1024 / 1024;
          this.record(growth, side.key, mib(r.peak - r.before));
          this.record(peak, side.key, mib(r.peak));
          this.record(rate, side.key, size / 1e6 / s);
          this.opts.log(
            `  ${side.label.padEnd(12)} ${phase}: RSS ${mib(r.before).toFixed(0)} MiB before, peak ${mib(r.peak).toFixed(0)} MiB (+${mib(r.peak - r.before).toFixed(0)}), ${(size / 1e6 / s).toFixed(0)} MB/s`,
          );
        } catch (e) {
          this.fail(growth, side.key, e);
        }
      }
    }
  }
}

/**
 * Writes every dirty page out before a write-heavy cell (untimed). Without it the previous cell's
 * writes are still being flushed while this one runs, and they land on whichever side runs next:
 * worst for a registry that fsyncs what it acknowledges, since its syncs queue behind them.
 */
function settleDisk(): void {
  spawnSync('sync');
}

export function tagName(i: number): string {
  return `t${String(i).padStart(6, '0')}`;
}

export function repoName(i: number): string {
  return `${CATALOG_PREFIX}/r${String(i).padStart(6, '0')}`;
}

async function writeContent(file: string, c: Content): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true });
  const fh = await open(file, 'w');
  try {
    for (const s of c.slices()) await fh.write(s);
  } finally {
    await fh.close();
  }
}

export function writeJson(file: string, value: unknown): void {
  writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}
