import type { DataSource } from 'typeorm';
import type { BlobApi } from '@wharf/contracts';
import {
  GcCollector,
  HolderCoherence,
  enqueueGarbage,
  forecastGarbage,
  readGcStats,
  type GcForecast,
  type GcStats,
} from '@wharf/metadata';

export type GcMode = 'stats' | 'dry-run' | 'run';

export interface GcReport {
  mode: GcMode;
  stats: GcStats;
  /** WHARF_GC_REVIEW_DELAY, which decides when an orphan becomes due. */
  reviewDelayMs?: number;
  /** dry-run: what a run would collect now and what waits; run: what is left waiting after it. */
  forecast?: GcForecast;
  /** run: what this command collected. */
  collected?: { manifests: number; blobs: number; bytes: number; queued: number };
  /** run without a blob service at hand: byte deletions left to the metadata service's workers. */
  handedOff?: number;
}

/**
 * `wharf gc stats|--dry-run|run`. A run queues every orphan the full mark finds (keeping the review
 * delay for young content, so pushes in progress are safe) and collects what is due, exactly as
 * the workers do and alongside them; without `blobs` the byte deletions stay queued for the workers.
 * The dry run forecasts that same run, so the two agree on what is due now and what is not yet.
 */
export async function gcCommand(
  ds: DataSource,
  mode: GcMode,
  opts: { reviewDelayMs: number; blobs?: BlobApi },
): Promise<GcReport> {
  if (mode === 'stats') return { mode, stats: await readGcStats(ds) };
  const { reviewDelayMs, blobs } = opts;
  if (mode === 'dry-run') {
    const forecast = await forecastGarbage(ds, reviewDelayMs, blobs);
    return { mode, stats: await readGcStats(ds), reviewDelayMs, forecast };
  }
  const queued = await enqueueGarbage(ds, reviewDelayMs);
  const pass = await new GcCollector(ds, blobs, reviewDelayMs, new HolderCoherence(ds)).runPass();
  const stats = await readGcStats(ds);
  return {
    mode,
    stats,
    reviewDelayMs,
    forecast: await forecastGarbage(ds, reviewDelayMs, blobs),
    collected: {
      manifests: pass.manifestsDeleted,
      blobs: pass.blobsDeleted,
      bytes: pass.bytesFreed,
      queued: queued.manifests + queued.blobs,
    },
    ...(blobs ? {} : { handedOff: stats.pendingBlobDeletions }),
  };
}

export function formatGcReport(r: GcReport): string {
  const s = r.stats;
  const lines: string[] = [];
  const f = r.forecast;
  if (r.mode === 'dry-run' && f) {
    const unlinked = f.unlinked?.blobs
      ? `, of which ${f.unlinked.blobs} blobs (${bytes(f.unlinked.blobBytes)}) never got a repository link`
      : '';
    lines.push(`would free now: ${amount(f.due)}${unlinked}`);
    if (f.leftToWorkers?.blobs)
      lines.push(
        `and, by the metadata service's workers: ${f.leftToWorkers.blobs} blobs (${bytes(f.leftToWorkers.blobBytes)})`,
      );
  }
  if (r.collected) {
    const c = r.collected;
    lines.push(`collected: ${c.manifests} manifests, ${c.blobs} blobs, ${bytes(c.bytes)} freed`);
    if (r.handedOff) lines.push(`byte deletions left to the metadata service's workers: ${r.handedOff}`);
  }
  if (f && r.reviewDelayMs !== undefined) {
    const waiting = f.notYetDue;
    if (waiting.manifests || waiting.blobs) {
      const first = waiting.firstDueAt?.toISOString();
      const last = waiting.lastDueAt?.toISOString();
      lines.push(
        `not yet due: ${amount(waiting)}; due from ${first}${last && last !== first ? ` (all by ${last})` : ''}`,
        `  an orphan is collected WHARF_GC_REVIEW_DELAY (${duration(r.reviewDelayMs)}) after the last push, ` +
          'tag change or blob check that touched it, so content a client is still pushing is never taken',
      );
      if (r.collected && !r.collected.manifests && !r.collected.blobs)
        lines.push(`nothing was due yet: run again after ${first}`);
    }
  }
  lines.push(
    `queue: ${s.manifestReviews} manifest reviews, ${s.blobReviews} blob reviews, ${s.pendingBlobDeletions} pending byte deletions; overdue: ${s.overdueReviews}`,
    `totals: ${s.manifestsDeleted} manifests, ${s.blobsDeleted} blobs, ${bytes(s.bytesFreed)} freed; last run: ${s.lastRunAt ? s.lastRunAt.toISOString() : 'never'}`,
  );
  return lines.join('\n');
}

function amount(g: { manifests: number; manifestBytes: number; blobs: number; blobBytes: number }): string {
  return `${g.manifests} manifests (${bytes(g.manifestBytes)}), ${g.blobs} blobs (${bytes(g.blobBytes)})`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** In the config's own notation (`<n>ms|s|m|h`), largest unit that divides it. */
export function duration(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
