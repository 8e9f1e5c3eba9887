/** `bench:cost`'s results and their Markdown table (pure: tested in cost.spec.ts). */
import { COMPONENTS, fmt, type GroupFigures } from './cost-figures';
import type { ClusterKey } from './cost-ops';
import type { OpId } from './cost-options';
import type { Replicas } from './distributed';

export interface OpResult {
  id: OpId;
  label: string;
  cluster: ClusterKey;
  driver: string;
  unit: 'µs/op' | 's/GB';
  /** The CPU window: operations completed, bytes moved, how long. */
  ops: number;
  bytes?: number;
  seconds: number;
  /** The CPU window: the load, then until the shape was quiet again (the work it deferred). */
  cpuWindowSeconds: number;
  /** req/s for requests, MB/s (1e6 bytes) for blob transfers. */
  rate: number;
  rateUnit: 'req/s' | 'MB/s';
  p50Ms?: number;
  p99Ms?: number;
  errors: number;
  firstError?: string;
  /** CPU per unit of work (µs/op or s/GB), net of each process's idle rate. */
  cpu: GroupFigures;
  /** gateway + metadata + blob + NATS + Postgres, per unit of work. */
  services: number;
  /** CPU seconds of the window as measured, before the idle rate is taken off. */
  cpuSeconds: GroupFigures;
  /** Postgres client backends of the shape's database at the window's end. */
  pgBackends: number;
  /** The counting pass: operations made, how long it and its settling took, the raw counts. */
  counted?: { ops: number; seconds: number; pgXacts: number; natsMsgs: number };
  /** Net of the idle rates; per request, blob GET or push (not per GB). */
  pgXactsPerOp?: number;
  natsMsgsPerOp?: number;
  /** NATS messages per operation by subject (prefix left off; replies as `<subject> (reply)`). */
  natsBySubject?: Record<string, number>;
}

export interface ClusterReport {
  key: ClusterKey;
  label: string;
  replicas: Replicas;
  env: Record<string, string>;
  idle: {
    cpuSeconds: number;
    /** CPU seconds per second of each process group while no load ran. */
    cpuPerSecond: GroupFigures;
    countSeconds: number;
    pgXactsPerSecond: number;
    natsMsgsPerSecond: number;
    /** Messages of the idle window by subject. */
    natsBySubject: Record<string, number>;
  };
}

export interface CostReport {
  startedAt: string;
  finishedAt: string;
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  natsServerFound: boolean;
  clusters: ClusterReport[];
  results: OpResult[];
}

const HEAD = [
  'operation',
  'shape',
  'load',
  'rate',
  'p50 / p99 ms',
  'unit',
  'gateway',
  'metadata',
  'blob',
  'NATS',
  'Postgres',
  '**services**',
  'load gen (excl.)',
  'PG xacts/op',
  'NATS msgs/op',
  'errors',
];

function loadOf(r: OpResult): string {
  if (r.driver === 'loop') return r.unit === 's/GB' ? 'sequential' : 'sequential, c=1';
  return `${r.driver} ${r.seconds.toFixed(1)} s`;
}

function row(r: OpResult, clusters: Map<ClusterKey, ClusterReport>): string {
  const latency = r.p50Ms === undefined ? '–' : `${fmt(r.p50Ms)} / ${fmt(r.p99Ms)}`;
  const cells = [
    r.label,
    clusters.get(r.cluster)?.label ?? r.cluster,
    loadOf(r),
    `${fmt(r.rate)} ${r.rateUnit}`,
    latency,
    r.unit,
    ...COMPONENTS.map((c) => fmt(r.cpu[c])),
    `**${fmt(r.services)}**`,
    fmt(r.cpu.loadgen),
    fmt(r.pgXactsPerOp),
    fmt(r.natsMsgsPerOp),
    String(r.errors),
  ];
  return `| ${cells.join(' | ')} |`;
}

function idleRow(c: ClusterReport): string {
  const ms = (v: number) => fmt(v * 1000);
  const cells = [
    c.label,
    ...COMPONENTS.map((g) => ms(c.idle.cpuPerSecond[g])),
    ms(c.idle.cpuPerSecond.loadgen),
    fmt(c.idle.pgXactsPerSecond),
    fmt(c.idle.natsMsgsPerSecond),
  ];
  return `| ${cells.join(' | ')} |`;
}

export function markdown(report: CostReport): string {
  const clusters = new Map(report.clusters.map((c) => [c.key, c]));
  const out = [
    '| ' + HEAD.join(' | ') + ' |',
    '|' + HEAD.map((_, i) => (i < 3 || i === 5 ? ' --- ' : ' ---: ')).join('|') + '|',
    ...report.results.map((r) => row(r, clusters)),
    '',
    'CPU is user + sys time from `/proc/<pid>/stat` over each window (the load, then until the',
    'services were quiet for 1.5 s, so work they defer such as pull events counts), net of what the',
    'same processes spend idle for as long (second table), per request (µs/op) or per GB (1e9 bytes)',
    'moved (s/GB). Rate and latency are of the load alone.',
    '**services** sums gateway, metadata, blob, NATS and Postgres; the load generator (this process',
    'and its wrk) is shown but not summed. Postgres is its client backends of the shape’s database;',
    'background processes (WAL writer, checkpointer, autovacuum, bgwriter) are excluded.',
    report.natsServerFound
      ? 'NATS is the machine’s nats-server, shared with anything else that runs on it meanwhile.'
      : 'No nats-server process was found on this machine: its column is 0.',
    'PG xacts/op (pg_stat_database commits + rollbacks of the shape’s database) and NATS msgs/op',
    '(messages on the shape’s subject prefix plus the replies to them; JetStream internals not',
    'counted) come from a separate pass of a fixed number of operations, per request, blob GET or',
    'push (not per GB), net of the idle rates below.',
    '',
    '| idle, per second | ' +
      [...COMPONENTS.map((c) => `${c === 'nats' ? 'NATS' : c === 'postgres' ? 'Postgres' : c} ms`)].join(
        ' | ',
      ) +
      ' | load gen ms | PG xacts | NATS msgs |',
    '| --- |' + ' ---: |'.repeat(COMPONENTS.length + 3),
    ...report.clusters.map(idleRow),
  ];
  const subjects = report.results.filter((r) => r.natsBySubject && Object.keys(r.natsBySubject).length);
  if (subjects.length) {
    out.push('', 'NATS messages per operation by subject:', '');
    for (const r of subjects) {
      const list = Object.entries(r.natsBySubject!).map(([k, v]) => `\`${k}\` ${fmt(v)}`);
      out.push(`- ${r.label} (${clusters.get(r.cluster)?.label ?? r.cluster}): ${list.join(', ')}`);
    }
  }
  const failed = report.results.filter((r) => r.errors > 0);
  if (failed.length) {
    out.push('', ...failed.map((r) => `- ${r.label}: ${r.errors} errors (${r.firstError ?? 'no detail'})`));
  }
  const m = report.machine;
  out.push(
    '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}; ${report.startedAt}.`,
  );
  return out.join('\n');
}
