import { performance } from 'node:perf_hooks';

/** Nearest-rank percentile of unsorted samples (0 < p <= 100); NaN when there are none. */
export function percentile(samples: ArrayLike<number>, p: number): number {
  if (!samples.length) return NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  firstError?: string;
  /** The `probe` difference over the measured window (e.g. CPU seconds of the server). */
  probed?: number;
}

/**
 * A closed loop: `concurrency` workers each fire a request as soon as their previous one finished.
 * Requests finishing during the warm-up are not counted; the window then lasts `durationMs`.
 * `fire` resolves true for an expected answer.
 */
export async function closedLoop(opts: {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  fire: () => Promise<boolean>;
  /** Sampled when the measured window opens and when it closes. */
  probe?: () => number;
}): Promise<LoadResult> {
  const lat: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const start = t0 + opts.warmupMs;
  const end = start + opts.durationMs;
  let counted = 0;
  let probeStart = 0;
  let probeEnd = 0;
  const probe = opts.probe;
  const timers = probe
    ? [
        setTimeout(() => (probeStart = probe()), opts.warmupMs),
        setTimeout(() => (probeEnd = probe()), opts.warmupMs + opts.durationMs),
      ]
    : [];
  const worker = async (): Promise<void> => {
    for (;;) {
      const a = performance.now();
      if (a >= end) return;
      let ok: boolean;
      try {
        ok = await opts.fire();
      } catch (e) {
        ok = false;
        firstError ??= (e as Error).message;
      }
      const b = performance.now();
      if (b < start || b > end) continue;
      counted++;
      if (!ok) errors++;
      lat.push(b - a);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  timers.forEach(clearTimeout);
  if (probe && !probeEnd) probeEnd = probe();
  const seconds = opts.durationMs / 1000;
  return {
    requests: counted,
    errors,
    seconds,
    rps: counted / seconds,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    firstError,
    probed: probe ? probeEnd - probeStart : undefined,
  };
}

/** Runs `fn` repeatedly until at least `minMs` passed and `minRuns` runs were made. */
export async function repeatFor(
  minMs: number,
  minRuns: number,
  fn: () => Promise<number>,
): Promise<{ runs: number; seconds: number; total: number; times: number[] }> {
  const t0 = performance.now();
  let runs = 0;
  let total = 0;
  const times: number[] = [];
  while (runs < minRuns || performance.now() - t0 < minMs) {
    const a = performance.now();
    total += await fn();
    times.push(performance.now() - a);
    runs++;
  }
  return { runs, seconds: (performance.now() - t0) / 1000, total, times };
}
