import { cpus, totalmem, release } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Goal, Metric, Side } from './model';

export interface GoalResult {
  goal: string;
  met: boolean | undefined;
}

export function evaluate(m: Metric, g: Goal): GoalResult {
  const t = m.value.target;
  const b = m.value.baseline;
  const bare = m.value.bare;
  switch (g.kind) {
    case 'ratio-min':
      return { goal: `≥${g.value}x`, met: t === undefined || b === undefined ? undefined : t / b >= g.value };
    case 'ratio-max':
      return { goal: `≤${g.value}x`, met: t === undefined || b === undefined ? undefined : t / b <= g.value };
    case 'bare-min':
      return {
        goal: `≥${g.value}x bare`,
        met: t === undefined || bare === undefined ? undefined : t / bare >= g.value,
      };
    case 'abs-max':
      return { goal: `<${g.value} ${m.unit}`, met: t === undefined ? undefined : t < g.value };
  }
}

function fmt(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !b) return '-';
  return `${(a / b).toFixed(2)}x`;
}

/** Which columns a table has: the sides that were measured, and the bare Node server if it ran. */
interface Columns {
  label(key: string): string | undefined;
  baseline: boolean;
  bare: boolean;
  header: string[];
}

function columns(metrics: Metric[], sides: Side[]): Columns {
  const label = (k: string) => sides.find((s) => s.key === k)?.label;
  const tl = label('target') ?? 'target';
  const bl = label('baseline');
  const bare = metrics.some((m) => m.value.bare !== undefined);
  const header = [
    'case',
    'unit',
    tl,
    ...(bl ? [bl, 'ratio'] : []),
    ...(bare ? ['bare node', `${tl}/bare`] : []),
    'goal',
  ];
  return { label, baseline: bl !== undefined, bare, header };
}

/** A metric's cells from its name to the last ratio (the goal column is each format's own). */
function figures(m: Metric, cols: Columns): string[] {
  return [
    m.name,
    `${m.unit} ${m.better === 'higher' ? '↑' : '↓'}`,
    fmt(m.value.target),
    ...(cols.baseline ? [fmt(m.value.baseline), ratio(m.value.target, m.value.baseline)] : []),
    ...(cols.bare ? [fmt(m.value.bare), ratio(m.value.target, m.value.bare)] : []),
  ];
}

/** The side-by-side table: one row per metric, both registries' figures, the ratio and the goal. */
export function table(metrics: Metric[], sides: Side[]): string {
  const cols = columns(metrics, sides);
  const { label, header } = cols;
  const rows: string[][] = [];
  let section = '';
  for (const m of metrics) {
    if (m.section !== section) {
      section = m.section;
      rows.push([`[${section}]`]);
    }
    const goals = (m.goals ?? [])
      .map((g) => evaluate(m, g))
      .map((r) => `${r.goal} ${r.met === undefined ? '?' : r.met ? 'met' : 'MISSED'}`)
      .join(', ');
    const errs = Object.entries(m.errors)
      .map(([k, e]) => `${label(k)}: ${e}`)
      .join('; ');
    rows.push([
      ...figures(m, cols),
      [goals, errs ? `(${errs.slice(0, 160)})` : ''].filter(Boolean).join(' '),
    ]);
  }
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.filter((r) => r.length > 1).map((r) => (r[i] ?? '').length)),
  );
  const line = (r: string[]) =>
    r.length === 1
      ? r[0]
      : r
          .map((c, i) => (i < 2 || i === r.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
          .join('  ')
          .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Markdown version of the table, for docs/performance.md. */
export function markdown(metrics: Metric[], sides: Side[]): string {
  const cols = columns(metrics, sides);
  const head = cols.header;
  const out = [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i < 2 || i === head.length - 1 ? ' --- ' : ' ---: ')).join('|')}|`,
  ];
  let section = '';
  for (const m of metrics) {
    if (m.section !== section) {
      section = m.section;
      out.push(`| **${section}** |${' |'.repeat(head.length - 1)}`);
    }
    const goals = (m.goals ?? [])
      .map((g) => evaluate(m, g))
      .map((r) => `${r.goal} ${r.met === undefined ? '?' : r.met ? '✅' : '❌'}`)
      .join(', ');
    out.push(`| ${[...figures(m, cols), goals].join(' | ')} |`);
  }
  return out.join('\n');
}

export function machine(): Record<string, unknown> {
  let kernel = release();
  try {
    kernel = readFileSync('/proc/version', 'utf8').trim();
  } catch {
    // not Linux
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel,
    node: process.version,
  };
}
