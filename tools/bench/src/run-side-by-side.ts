/**
 * `npm run bench:compare -- [bench options]`: starts the all-in-one Wharf (from dist) and CNCF
 * Distribution (/usr/bin/docker-registry) on free ports in temp dirs, runs the benchmark against
 * both (Wharf as target, Distribution as baseline), then stops them and removes their data.
 *
 *   --wharf-main FILE      Wharf's entry point (default: dist/apps/registry/src/main.js)
 *   --distribution FILE    the Distribution binary (default: /usr/bin/docker-registry)
 *   --baseline-wharf-main FILE   another Wharf build as the baseline instead of Distribution (to
 *                          measure one optimisation: the build without it against the build with it)
 *   --distributed          the distributed shape (1 gateway, 1 metadata, 1 blob from dist/apps, on the
 *                          machine's Postgres and NATS) as the target and the all-in-one as the baseline:
 *                          the ratios are then the cost of the hops (docs/performance.md)
 *   --keep                 leave the data dirs in place
 *   --data DIR             keep each registry's data in DIR/<name> and reuse it on the next run, so
 *                          listings seeded once (100,000 tags take a while) are there next time
 * WHARF_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the Wharf process.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDistributed } from './distributed';
import { runBench } from './main';
import { parseOptions } from './options';
import { startDistribution, startWharf, type Server } from './processes';

function takeOption(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const [, value] = args.splice(i, 2);
  return value;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const wharfMain = takeOption(args, '--wharf-main') ?? join(__dirname, '../../../apps/registry/src/main.js');
  const distribution = takeOption(args, '--distribution') ?? '/usr/bin/docker-registry';
  const baselineWharf = takeOption(args, '--baseline-wharf-main');
  const flag = (name: string): boolean => {
    const at = args.indexOf(name);
    if (at >= 0) args.splice(at, 1);
    return at >= 0;
  };
  const data = takeOption(args, '--data');
  const keep = flag('--keep') || data !== undefined;
  const dataDir = (name: string): string | undefined => {
    if (data === undefined) return undefined;
    mkdirSync(join(data, name), { recursive: true });
    // The embedded Postgres runs as `postgres` when we are root: it must reach its directory.
    chmodSync(data, 0o755);
    chmodSync(join(data, name), 0o755);
    return join(data, name);
  };
  const distributed = flag('--distributed');
  // Options are checked (and --help answered, which exits) before any server starts: an exit from
  // parseOptions later would skip the cleanup below and leave the registries running.
  parseOptions([...args, '--target', 'http://127.0.0.1:1'], { requireTarget: true });
  const servers: Server[] = [];
  const stopAll = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (!keep) for (const s of servers) rmSync(s.dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stopAll().then(() => process.exit(130)));
  }
  try {
    const wharf = distributed
      ? await startDistributed({ apps: join(wharfMain, '../../..') })
      : await startWharf({ main: wharfMain, dataDir: dataDir('wharf') });
    servers.push(wharf);
    const dist = distributed
      ? await startWharf({ main: wharfMain, dataDir: dataDir('wharf') })
      : baselineWharf
        ? await startWharf({ main: baselineWharf, dataDir: dataDir('wharf-before') })
        : await startDistribution({ binary: distribution, dir: dataDir('distribution') });
    servers.push(dist);
    const targetLabel = distributed ? 'Wharf dist.' : 'Wharf';
    const baselineLabel = distributed ? 'Wharf AIO' : baselineWharf ? 'Wharf before' : 'Distribution';
    console.error(`${targetLabel.padEnd(12)} ${wharf.url} pid ${wharf.pid} data ${wharf.dir}`);
    console.error(`${baselineLabel.padEnd(12)} ${dist.url} pid ${dist.pid} data ${dist.dir}`);
    const cli = parseOptions(
      [
        ...args,
        '--target',
        wharf.url,
        '--target-pid',
        String(wharf.pid),
        '--target-label',
        targetLabel,
        '--baseline',
        dist.url,
        '--baseline-pid',
        String(dist.pid),
        '--baseline-label',
        baselineLabel,
      ],
      { requireTarget: true },
    );
    let distVersion = '';
    try {
      if (baselineWharf || distributed) throw new Error('no Distribution');
      distVersion = execFileSync(distribution, ['--version']).toString().trim();
    } catch {
      // only for the record
    }
    const ok = await runBench(
      cli,
      {
        registries: distributed
          ? {
              wharfDistributed: { apps: join(wharfMain, '../../..'), replicas: 1 },
              wharf: { main: wharfMain },
            }
          : baselineWharf
            ? { wharf: { main: wharfMain }, baselineWharf: { main: baselineWharf } }
            : { wharf: { main: wharfMain }, distribution: { binary: distribution, version: distVersion } },
      },
      // The targets compare Wharf with Distribution; against another Wharf they mean nothing.
      { goals: !distributed && !baselineWharf },
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
