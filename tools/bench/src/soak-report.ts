import { formatBytes, MiB } from './content';
import type { WrkResult } from './soak-wrk';

/** What the issue asks of a registry under this load (of every process, for RSS). */
export const SOAK_TARGETS = { p99Ms: 250, rssGrowthMiB: 100 } as const;

/** One server process's resident set over the soak. */
export interface ProcessRss {
  name: string;
  startMiB: number;
  peakMiB: number;
  endMiB: number;
  growthMiB: number;
}

export interface SoakResult {
  label: string;
  /** The URL pulled and pushed through; several comma-separated when the load was spread. */
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
  /** Each process's own figures (one for the all-in-one); absent when no process was known. */
  rss?: ProcessRss[];
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
  const several = (r.rss?.length ?? 0) > 1;
  for (const proc of timings ? (r.rss ?? []) : []) {
    if (proc.growthMiB > SOAK_TARGETS.rssGrowthMiB)
      out.push(
        `RSS growth ${several ? `of ${proc.name} ` : ''}${proc.growthMiB} MiB > ${SOAK_TARGETS.rssGrowthMiB} MiB`,
      );
  }
  return out;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

function rssTotals(r: SoakResult): string {
  if (!r.rss?.length) return 'n/a';
  const sum = (f: (p: ProcessRss) => number) => round1(r.rss!.reduce((s, p) => s + f(p), 0));
  const total = `${sum((p) => p.startMiB)} / ${sum((p) => p.peakMiB)}`;
  return r.rss.length > 1 ? `${total} (sum of ${r.rss.length})` : total;
}

function rssGrowth(r: SoakResult): string {
  if (!r.rss?.length) return 'n/a';
  const top = r.rss.reduce((a, b) => (b.growthMiB > a.growthMiB ? b : a));
  return r.rss.length > 1 ? `${top.growthMiB} (${top.name})` : String(top.growthMiB);
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
    ['RSS start / peak (MiB)', rssTotals],
    ['RSS growth (MiB)', rssGrowth],
  ];
  // With several processes on a side, each one's own line: the limit holds for every process.
  const names = [
    ...new Set(results.flatMap((r) => (r.rss && r.rss.length > 1 ? r.rss : []).map((p) => p.name))),
  ];
  for (const name of names) {
    rows.push([
      `  ${name} start / peak / growth`,
      (r) => {
        const p = r.rss?.find((x) => x.name === name);
        return p ? `${p.startMiB} / ${p.peakMiB} / +${p.growthMiB}` : '';
      },
    ]);
  }
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
