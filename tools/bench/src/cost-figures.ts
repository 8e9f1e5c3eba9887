/**
 * The arithmetic of `bench:cost`, kept free of I/O so that it is tested on its own: reading a
 * /proc/<pid>/stat line, CPU deltas between two snapshots of process groups, and turning a window's
 * deltas into per-operation figures net of what the same processes spend while idle.
 */

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux that matters). */
export const USER_HZ = 100;

/** The services a figure is given for; the load generator is measured too, but never summed in. */
export const COMPONENTS = ['gateway', 'metadata', 'blob', 'nats', 'postgres'] as const;
export type Component = (typeof COMPONENTS)[number];
export type Group = Component | 'loadgen';
export const GROUPS: readonly Group[] = [...COMPONENTS, 'loadgen'];

/** The times of one /proc/<pid>/stat line, in clock ticks. */
export interface ProcTimes {
  ppid: number;
  utime: number;
  stime: number;
  /** Of the children the process waited for (the load generator's wrk, once it exited). */
  cutime: number;
  cstime: number;
}

export function parseProcStat(line: string): ProcTimes {
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const close = line.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc/<pid>/stat line: ${line.slice(0, 80)}`);
  // f[0] is field 3 (state), so field n is f[n - 3]: ppid 4, utime 14, stime 15, cutime 16, cstime 17.
  const f = line
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const n = (field: number) => {
    const v = Number(f[field - 3]);
    if (!Number.isFinite(v)) throw new Error(`/proc/<pid>/stat: field ${field} is "${f[field - 3]}"`);
    return v;
  };
  return { ppid: n(4), utime: n(14), stime: n(15), cutime: n(16), cstime: n(17) };
}

/** user + sys ticks; with `children`, also those of the waited-for children. */
export function cpuTicks(t: ProcTimes, children = false): number {
  return t.utime + t.stime + (children ? t.cutime + t.cstime : 0);
}

/** CPU ticks per pid of each group at one instant (pids come and go: Postgres backends). */
export type CpuSnapshot = Record<Group, Map<number, number>>;

export function emptySnapshot(): CpuSnapshot {
  return Object.fromEntries(GROUPS.map((g) => [g, new Map<number, number>()])) as CpuSnapshot;
}

export type GroupFigures = Record<Group, number>;

export function zeroFigures(): GroupFigures {
  return Object.fromEntries(GROUPS.map((g) => [g, 0])) as GroupFigures;
}

/**
 * CPU seconds each group used between two snapshots. A pid only in `b` started in between and
 * counts whole; a pid only in `a` ended in between and its last ticks are lost (the services'
 * processes and their pooled Postgres connections live through a run, so this is rare).
 */
export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): GroupFigures {
  const out = zeroFigures();
  for (const g of GROUPS) {
    let ticks = 0;
    for (const [pid, t] of b[g]) ticks += Math.max(0, t - (a[g].get(pid) ?? 0));
    out[g] = ticks / USER_HZ;
  }
  return out;
}

/** Per second of a window: CPU seconds per second, or counts per second. */
export function rates(figures: GroupFigures, seconds: number): GroupFigures {
  const out = zeroFigures();
  for (const g of GROUPS) out[g] = seconds > 0 ? figures[g] / seconds : 0;
  return out;
}

/** What a window cost beyond idling for as long: never below zero (noise on a shared machine). */
export function netOfIdle(figures: GroupFigures, idle: GroupFigures, seconds: number): GroupFigures {
  const out = zeroFigures();
  for (const g of GROUPS) out[g] = Math.max(0, figures[g] - idle[g] * seconds);
  return out;
}

/** Work a window did: requests, or bytes moved (blob GET and push are given per GB). */
export type Work = { ops: number } | { bytes: number };

export const GB = 1e9;

/** µs of CPU per operation, or CPU seconds per GB (1e9 bytes, as in docs/performance.md). */
export function perWork(cpuSeconds: number, work: Work): number {
  if ('ops' in work) return work.ops > 0 ? (cpuSeconds * 1e6) / work.ops : NaN;
  return work.bytes > 0 ? cpuSeconds / (work.bytes / GB) : NaN;
}

export function unitOf(work: Work): 'µs/op' | 's/GB' {
  return 'ops' in work ? 'µs/op' : 's/GB';
}

/** Every group's CPU per unit of work, and the services' sum (the load generator excluded). */
export function costPerWork(net: GroupFigures, work: Work): { perGroup: GroupFigures; services: number } {
  const perGroup = zeroFigures();
  for (const g of GROUPS) perGroup[g] = perWork(net[g], work);
  const services = perWork(
    COMPONENTS.reduce((sum, c) => sum + net[c], 0),
    work,
  );
  return { perGroup, services };
}

/**
 * A counter's increase per operation (Postgres transactions, NATS messages), net of its idle rate
 * over the same time; undefined when nothing was counted or no operation made.
 */
export function countPerOp(
  delta: number,
  idlePerSecond: number,
  seconds: number,
  ops: number,
): number | undefined {
  if (!(ops > 0) || !Number.isFinite(delta)) return undefined;
  return Math.max(0, delta - idlePerSecond * seconds) / ops;
}

/** Three significant figures, no exponent: 0.00123, 1.23, 12.3, 1,234. */
export function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1000) return Math.round(v).toLocaleString('en-US');
  const digits = Math.max(0, 2 - Math.floor(Math.log10(abs)));
  return v.toFixed(Math.min(digits, 4));
}

/** What each key of a counter map gained from `a` to `b`. */
export function countsDelta(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of b) {
    const d = v - (a.get(k) ?? 0);
    if (d) out.set(k, d);
  }
  return out;
}

/**
 * Per operation and subject, net of each subject's idle rate over `seconds`, the busiest first.
 * Dropped: subjects left with less than one message, and background subjects (those that ran idle
 * too) whose surplus is under a fifth of their count, which is the jitter of a timer.
 */
export function subjectsPerOp(
  delta: Map<string, number>,
  idlePerSecond: Map<string, number>,
  seconds: number,
  ops: number,
): Record<string, number> {
  if (!(ops > 0)) return {};
  const rows: [string, number][] = [];
  for (const [k, v] of delta) {
    const idle = idlePerSecond.get(k) ?? 0;
    const net = v - idle * seconds;
    if (net >= 1 && (idle === 0 || net >= 0.2 * v)) rows.push([k, net / ops]);
  }
  return Object.fromEntries(rows.sort((x, y) => y[1] - x[1]));
}

/** The groups whose work a measured operation may leave behind (NATS serves others too). */
const DEFERRING: readonly Group[] = ['gateway', 'metadata', 'blob', 'postgres'];

/**
 * Whether the shape's processes did no more over `seconds` than idling does, give or take a tick
 * each: work an operation defers (a pull-event batch, its publication) is over.
 */
export function isQuiet(delta: GroupFigures, idle: GroupFigures, seconds: number): boolean {
  const tick = 1 / USER_HZ;
  return DEFERRING.reduce((sum, g) => sum + delta[g] - idle[g] * seconds, 0) <= DEFERRING.length * tick;
}
