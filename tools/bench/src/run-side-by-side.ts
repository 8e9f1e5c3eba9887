/**
 * `npm run bench:compare -- [options] [bench options]`: starts the target (the all-in-one Wharf
 * from dist, or with --distributed the distributed shape) and the baseline (CNCF Distribution,
 * /usr/bin/docker-registry, or an all-in-one Wharf) on free ports in temp dirs, runs the benchmark
 * against both, then stops them and removes their data. Options: COMPARE_USAGE (compare-options.ts).
 *
 *   npm run bench:compare -- --distributed --baseline distribution   the issue's side-by-side
 *   npm run bench:compare -- --distributed --gateways 2 --metadata 2  the hops' cost, scaled out
 *
 * WHARF_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the Wharf processes.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { baselineLabel, COMPARE_USAGE, parseCompareOptions, type CompareOptions } from './compare-options';
import { shapeLabel, startDistributed } from './distributed';
import { runBench } from './main';
import { formatProcesses, parseOptions } from './options';
import { serverProcesses, startDistribution, startWharf, type Server } from './processes';

async function main(): Promise<number> {
  if (process.argv.includes('--help')) console.log(COMPARE_USAGE);
  let o: CompareOptions;
  try {
    o = parseCompareOptions(process.argv.slice(2), join(__dirname, '../../..'));
    // Checked (and --help answered, which exits) before any server starts: an exit from
    // parseOptions later would skip the cleanup below and leave the registries running.
    parseOptions([...o.rest, '--target', 'http://127.0.0.1:1'], { requireTarget: true });
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const dataDir = (name: string): string | undefined => {
    if (o.data === undefined) return undefined;
    mkdirSync(join(o.data, name), { recursive: true });
    // The embedded Postgres runs as `postgres` when we are root: it must reach its directory.
    chmodSync(o.data, 0o755);
    chmodSync(join(o.data, name), 0o755);
    return join(o.data, name);
  };
  const servers: Server[] = [];
  const stopAll = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (!o.keep) for (const s of servers) rmSync(s.dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stopAll().then(() => process.exit(130)));
  }
  const apps = join(o.wharfMain, '../../..');
  try {
    const target = o.distributed
      ? await startDistributed({ apps, replicas: o.replicas })
      : await startWharf({ main: o.wharfMain, dataDir: dataDir('wharf') });
    servers.push(target);
    const base =
      o.baseline === 'distribution'
        ? await startDistribution({ binary: o.distribution, dir: dataDir('distribution') })
        : await startWharf({
            main: o.baselineWharfMain,
            // With --distributed the target keeps nothing in --data, so the all-in-one may use 'wharf'.
            dataDir: dataDir(o.otherBuild ? 'wharf-before' : o.distributed ? 'wharf' : 'wharf-baseline'),
          });
    servers.push(base);
    const targetLabel = o.distributed ? shapeLabel(o.replicas) : 'Wharf';
    const baseLabel = baselineLabel(o);
    for (const [label, s] of [
      [targetLabel, target],
      [baseLabel, base],
    ] as const) {
      console.error(`${label.padEnd(12)} ${s.url} ${formatProcesses(serverProcesses(s))} data ${s.dir}`);
    }
    const cli = parseOptions(
      [
        ...o.rest,
        '--target',
        target.url,
        '--target-pid',
        formatProcesses(serverProcesses(target)),
        '--target-label',
        targetLabel,
        '--baseline',
        base.url,
        '--baseline-pid',
        formatProcesses(serverProcesses(base)),
        '--baseline-label',
        baseLabel,
      ],
      { requireTarget: true },
    );
    let distVersion = '';
    try {
      if (o.baseline === 'distribution')
        distVersion = execFileSync(o.distribution, ['--version']).toString().trim();
    } catch {
      // only for the record
    }
    const wharf = o.distributed
      ? { wharfDistributed: { apps, replicas: o.replicas } }
      : { wharf: { main: o.wharfMain } };
    const ok = await runBench(
      cli,
      {
        registries: {
          ...wharf,
          ...(o.baseline === 'distribution'
            ? { distribution: { binary: o.distribution, version: distVersion } }
            : { [o.otherBuild ? 'baselineWharf' : 'wharfAllInOne']: { main: o.baselineWharfMain } }),
        },
      },
      // The targets compare Wharf with Distribution; against another Wharf they mean nothing.
      { goals: o.baseline === 'distribution' },
    );
    return ok ? 0 : 1;
  } finally {
    await stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
