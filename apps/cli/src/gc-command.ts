import type { DataSource } from 'typeorm';
import type { BlobApi } from '@wharf/contracts';
import {
  GcCollector,
  enqueueGarbage,
  findGarbage,
  readGcStats,
  type GcGarbage,
  type GcStats,
} from '@wharf/metadata';

export type GcMode = 'stats' | 'dry-run' | 'run';

export interface GcReport {
  mode: GcMode;
  stats: GcStats;
  /** dry-run and run: what the full mark finds collectable now (the review delay ignored). */
  garbage?: GcGarbage;
  /** run: what this command collected. */
  collected?: { manifests: number; blobs: number; bytes: number; queued: number };
  /** run without a blob service at hand: byte deletions left to the metadata service's workers. */
  handedOff?: number;
}

/**
 * `wharf gc stats|--dry-run|run`. A run queues every orphan the full mark finds (keeping the review
 * delay for young content, so pushes in progress are safe) and collects what is due, exactly as
 * the workers do and alongside them; without `blobs` the byte deletions stay queued for the workers.
 */
export async function gcCommand(
  ds: DataSource,
  mode: GcMode,
  opts: { reviewDelayMs: number; blobs?: BlobApi },
): Promise<GcReport> {
  if (mode === 'stats') return { mode, stats: await readGcStats(ds) };
  const garbage = await findGarbage(ds);
  if (mode === 'dry-run') return { mode, stats: await readGcStats(ds), garbage };
  const queued = await enqueueGarbage(ds, opts.reviewDelayMs);
  const pass = await new GcCollector(ds, opts.blobs, opts.reviewDelayMs).runPass();
  const stats = await readGcStats(ds);
  return {
    mode,
    stats,
    garbage,
    collected: {
      manifests: pass.manifestsDeleted,
      blobs: pass.blobsDeleted,
      bytes: pass.bytesFreed,
      queued: queued.manifests + queued.blobs,
    },
    ...(opts.blobs ? {} : { handedOff: stats.pendingBlobDeletions }),
  };
}

export function formatGcReport(r: GcReport): string {
  const s = r.stats;
  const lines: string[] = [];
  if (r.garbage) {
    const g = r.garbage;
    lines.push(
      `${r.mode === 'dry-run' ? 'would free' : 'collectable before this run'}: ${g.manifests} manifests (${bytes(g.manifestBytes)}), ${g.blobs} blobs (${bytes(g.blobBytes)})`,
    );
  }
  if (r.collected) {
    const c = r.collected;
    lines.push(`collected: ${c.manifests} manifests, ${c.blobs} blobs, ${bytes(c.bytes)} freed`);
    if (r.handedOff) lines.push(`byte deletions left to the metadata service's workers: ${r.handedOff}`);
  }
  lines.push(
    `queue: ${s.manifestReviews} manifest reviews, ${s.blobReviews} blob reviews, ${s.pendingBlobDeletions} pending byte deletions; overdue: ${s.overdueReviews}`,
    `totals: ${s.manifestsDeleted} manifests, ${s.blobsDeleted} blobs, ${bytes(s.bytesFreed)} freed; last run: ${s.lastRunAt ? s.lastRunAt.toISOString() : 'never'}`,
  );
  return lines.join('\n');
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
