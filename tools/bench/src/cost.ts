/**
 * `npm run bench:cost`: where each operation's CPU goes in the distributed shape, the measurements
 * behind docs/scaling.md. For every operation (manifest GET/HEAD by tag, GET by digest, GET by tag
 * with the gateway cache off, blob GET and monolithic push per GB, a tag move with 1 and 2
 * gateways) a fixed load runs while the CPU of each gateway, metadata and blob process, of the
 * machine's nats-server and of the shape's Postgres backends is read before and after; a second,
 * separate pass counts the Postgres transactions and NATS messages per operation.
 *
 *   npm run bench:cost -- [--duration 5] [--blob-size 256m] [--markdown FILE] [--json FILE]
 *
 * Per shape: start, push what the operations read, warm every operation, then the counting passes
 * (with the NATS counter subscribed) and, after it is gone, the CPU windows. See COST_USAGE.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryClient, splitUrls } from './client';
import {
  costPerWork,
  countPerOp,
  countsDelta,
  cpuDelta,
  fmt,
  isQuiet,
  netOfIdle,
  rates,
  subjectsPerOp,
  unitOf,
  type CpuSnapshot,
  type GroupFigures,
  type Work,
} from './cost-figures';
import { wrkAvailable } from './cost-load';
import { CLUSTERS, operations, seed, type ClusterKey, type Ctx, type OpDef } from './cost-ops';
import { COST_USAGE, parseCostOptions, type CostOptions } from './cost-options';
import { NatsCounter, Probes } from './cost-probes';
import { markdown, type ClusterReport, type CostReport, type OpResult } from './cost-report';
import { startDistributed } from './distributed';
import { machine } from './report';

const log = (line: string) => console.error(line);

interface Counts {
  ops: number;
  seconds: number;
  pgXacts: number;
  natsMsgs: number;
  natsBySubject: Map<string, number>;
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** The Postgres and NATS counters around `fn`, through `settle` seconds after it (see --settle). */
async function counted(
  probes: Probes,
  counter: NatsCounter,
  settle: number,
  fn: () => Promise<number>,
): Promise<Counts> {
  const x0 = await probes.xacts();
  const m0 = counter.counts();
  const t0 = performance.now();
  const ops = await fn();
  await sleep(settle * 1000);
  const natsBySubject = countsDelta(m0, counter.counts());
  return {
    ops,
    seconds: (performance.now() - t0) / 1000,
    pgXacts: (await probes.xacts()) - x0,
    natsMsgs: sum(natsBySubject),
    natsBySubject,
  };
}

/** The counting passes: the idle rates first, then each operation, the NATS counter subscribed. */
async function countingPasses(
  ctx: Ctx,
  ops: OpDef[],
  probes: Probes,
  server: { natsUrl: string; natsPrefix: string },
): Promise<{ idle: Counts; perOp: Map<OpDef, Counts> }> {
  const settle = ctx.opts.settleSeconds;
  // The warm-ups' last statistics reach pg_stat_database only after a backend's idle interval.
  await sleep(settle * 1000);
  const counter = await NatsCounter.start(server.natsUrl, server.natsPrefix);
  try {
    const idle = await counted(probes, counter, settle, async () => 0);
    const perOp = new Map<OpDef, Counts>();
    for (const op of ops) {
      log(`  counting: ${op.label}`);
      perOp.set(op, await counted(probes, counter, settle, () => op.count(ctx)));
    }
    return { idle, perOp };
  } finally {
    await counter.stop();
  }
}

function resultOf(
  op: OpDef,
  cluster: ClusterKey,
  load: Awaited<ReturnType<OpDef['run']>>,
  span: number,
  cpuSeconds: GroupFigures,
  idleCpu: GroupFigures,
  pgBackends: number,
  counts: { idle: Counts; mine?: Counts },
): OpResult {
  const work: Work = op.per === 'GB' ? { bytes: load.bytes ?? 0 } : { ops: load.ops };
  const net = netOfIdle(cpuSeconds, idleCpu, span);
  const { perGroup, services } = costPerWork(net, work);
  const { idle, mine } = counts;
  const perSecond = (n: number) => (idle.seconds > 0 ? n / idle.seconds : 0);
  return {
    id: op.id,
    label: op.label,
    cluster,
    driver: load.driver,
    unit: unitOf(work),
    ops: load.ops,
    bytes: load.bytes,
    seconds: load.seconds,
    cpuWindowSeconds: span,
    rate: op.per === 'GB' ? (load.bytes ?? 0) / 1e6 / load.seconds : load.ops / load.seconds,
    rateUnit: op.per === 'GB' ? 'MB/s' : 'req/s',
    p50Ms: load.p50Ms,
    p99Ms: load.p99Ms,
    errors: load.errors,
    firstError: load.firstError,
    cpu: perGroup,
    services,
    cpuSeconds,
    pgBackends,
    counted: mine && { ops: mine.ops, seconds: mine.seconds, pgXacts: mine.pgXacts, natsMsgs: mine.natsMsgs },
    pgXactsPerOp: mine && countPerOp(mine.pgXacts, perSecond(idle.pgXacts), mine.seconds, mine.ops),
    natsMsgsPerOp: mine && countPerOp(mine.natsMsgs, perSecond(idle.natsMsgs), mine.seconds, mine.ops),
    natsBySubject:
      mine &&
      subjectsPerOp(
        mine.natsBySubject,
        new Map([...idle.natsBySubject].map(([k, v]) => [k, perSecond(v)])),
        mine.seconds,
        mine.ops,
      ),
  };
}

/** Quiet for this long means deferred work is done: longer than WHARF_EVENTS_PULL_FLUSH's 1 s. */
const QUIET_SECONDS = 1.5;
const QUIET_STEP_MS = 500;
const QUIET_MAX_SECONDS = 60;

/**
 * Waits until the shape has been quiet for QUIET_SECONDS and answers the snapshot taken then, so
 * that a window ending on it includes the work its operations deferred (pull events are batched,
 * then published) and the next window starts with none of it.
 */
async function quiesce(probes: Probes, idle: GroupFigures): Promise<CpuSnapshot> {
  const started = performance.now();
  let prev = await probes.cpu();
  let quietFor = 0;
  while (quietFor < QUIET_SECONDS) {
    await sleep(QUIET_STEP_MS);
    const next = await probes.cpu();
    quietFor = isQuiet(cpuDelta(prev, next), idle, QUIET_STEP_MS / 1000)
      ? quietFor + QUIET_STEP_MS / 1000
      : 0;
    prev = next;
    if ((performance.now() - started) / 1000 > QUIET_MAX_SECONDS) {
      log(`  (still busy after ${QUIET_MAX_SECONDS} s: measuring anyway)`);
      break;
    }
  }
  return prev;
}

/** One shape: start it, seed, count, measure, stop. */
async function measureCluster(
  key: ClusterKey,
  ops: OpDef[],
  opts: CostOptions,
  apps: string,
): Promise<{ cluster: ClusterReport; results: OpResult[]; natsFound: boolean }> {
  const spec = CLUSTERS[key];
  log(`${spec.label}: starting ${spec.replicas.gateway} gateway(s), 1 metadata, 1 blob`);
  const server = await startDistributed({ apps, replicas: spec.replicas, env: spec.env });
  const urls = splitUrls(server.url);
  const client = new RegistryClient(urls[0], 8);
  let probes: Probes | undefined;
  try {
    probes = await Probes.open(server.database, server.processes);
    const fx = await seed(client, ops, opts);
    const ctx: Ctx = { client, urls, opts, fx, wrk: opts.wrk && wrkAvailable() };
    for (const op of ops) await op.warm(ctx);
    const { idle, perOp } = await countingPasses(ctx, ops, probes, server);

    // The CPU windows, the counter gone: first the idle rates, then each operation.
    const i0 = await probes.cpu();
    const idleStart = performance.now();
    await sleep(opts.seconds * 1000);
    const i1 = await probes.cpu();
    const idleSeconds = (performance.now() - idleStart) / 1000;
    const idleCpu = rates(cpuDelta(i0, i1), idleSeconds);
    const results: OpResult[] = [];
    for (const op of ops) {
      await op.warm(ctx);
      const a = await quiesce(probes, idleCpu);
      const t0 = performance.now();
      const load = await op.run(ctx);
      const b = await quiesce(probes, idleCpu);
      // The idle rate comes off for the whole span, the load and the drain after it.
      const span = (performance.now() - t0) / 1000;
      const r = resultOf(op, key, load, span, cpuDelta(a, b), idleCpu, b.postgres.size, {
        idle,
        mine: perOp.get(op),
      });
      log(
        `  ${op.label}: ${fmt(r.rate)} ${r.rateUnit}, services ${fmt(r.services)} ${r.unit}` +
          (r.errors ? `, ${r.errors} errors: ${r.firstError}` : ''),
      );
      results.push(r);
    }
    const cluster: ClusterReport = {
      key,
      label: spec.label,
      replicas: spec.replicas,
      env: spec.env,
      idle: {
        cpuSeconds: idleSeconds,
        cpuPerSecond: idleCpu,
        countSeconds: idle.seconds,
        pgXactsPerSecond: idle.pgXacts / idle.seconds,
        natsMsgsPerSecond: idle.natsMsgs / idle.seconds,
        natsBySubject: Object.fromEntries(idle.natsBySubject),
      },
    };
    return { cluster, results, natsFound: probes.natsFound };
  } finally {
    await client.close();
    await probes?.close();
    await server.stop();
    rmSync(server.dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const opts = parseCostOptions(process.argv.slice(2));
  if (opts.help) {
    console.log(COST_USAGE);
    return 0;
  }
  const apps = join(__dirname, '../../../apps');
  const startedAt = new Date().toISOString();
  const ops = operations(opts);
  const clusters: ClusterReport[] = [];
  const results: OpResult[] = [];
  let natsServerFound = true;
  for (const key of Object.keys(CLUSTERS) as ClusterKey[]) {
    const mine = ops.filter((o) => o.cluster === key);
    if (!mine.length) continue;
    const r = await measureCluster(key, mine, opts, apps);
    clusters.push(r.cluster);
    results.push(...r.results);
    natsServerFound &&= r.natsFound;
  }
  const report: CostReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: machine(),
    options: { ...opts, help: undefined },
    natsServerFound,
    clusters,
    results,
  };
  const table = markdown(report);
  console.log(table);
  if (opts.markdown) writeFileSync(opts.markdown, table + '\n');
  if (opts.json) writeFileSync(opts.json, JSON.stringify(report, null, 2) + '\n');
  return results.some((r) => r.errors > 0) ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : e);
      process.exit(2);
    },
  );
}
