import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { processesCpuSeconds } from './cpu';
import type { BenchOptions, Metric, MetricSpec, Side, SideKey } from './model';
import { listingSection } from './sections/listings';
import { memorySection } from './sections/memory';
import { blobGetSection, manifestSection, pushManifestImage } from './sections/pulls';
import { concurrentPushSection, pushSection } from './sections/pushes';
import { median, percentile } from './stats';

/** How long one side reads before the next takes its turn, within a blob GET cell. */
const TRANSFER_SLICE_MS = 200;

/**
 * Runs the benchmark sections against the target and, when given, the baseline: every cell runs
 * on each side in turn, the order alternating between rounds so that machine drift hits both.
 * The sections (sections/) measure; this harness orders the sides and keeps the samples.
 */
export class Bench {
  readonly metrics = new Map<string, Metric>();

  constructor(
    readonly sides: Side[],
    readonly opts: BenchOptions,
    /** Where the bare server's files go (same filesystem as the registries' temp dirs). */
    readonly bareDir?: string,
  ) {}

  get registries(): Side[] {
    return this.sides.filter((s) => s.key !== 'bare');
  }

  get bare(): Side | undefined {
    return this.sides.find((s) => s.key === 'bare');
  }

  /** The sides in the order of a round: rotated by one each round. */
  order<T>(round: number, sides: T[]): T[] {
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
    const manifestImage = await pushManifestImage(this);
    if (s.has('manifest')) await manifestSection(this, manifestImage);
    if (s.has('blob-get')) await blobGetSection(this);
    if (s.has('push')) await pushSection(this);
    if (s.has('concurrent')) await concurrentPushSection(this);
    if (s.has('listings')) await listingSection(this);
    if (s.has('rss')) await memorySection(this);
    return this.finish();
  }

  /**
   * Runs `transfer` on every side for the cell's minimum time each, in slices of about
   * TRANSFER_SLICE_MS that take turns (the first side of each turn rotates), so that the machine's
   * drift during a cell (page cache, the other tenant, CPU frequency) hits every side alike instead
   * of whichever side held a whole block of seconds. A side that fails drops out of the cell.
   */
  async interleaved(
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
          const cpu0 = processesCpuSeconds(side.processes) ?? 0;
          const a = performance.now();
          do t.bytes += await transfer(side);
          while (performance.now() - a < TRANSFER_SLICE_MS);
          t.ms += performance.now() - a;
          if (side.processes.length) t.cpuSeconds += processesCpuSeconds(side.processes)! - cpu0;
        } catch (e) {
          totals.delete(side.key);
          onError(side, e);
        }
      }
    }
  }

  /** Repeats a transfer for the cell's minimum time (at least once); MB/s over the time spent in it. */
  async transferRate(fn: () => Promise<number>, prepare?: () => void): Promise<number> {
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
}

export function writeJson(file: string, value: unknown): void {
  writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}
