/**
 * `npm run bench:compare -- [bench options]`: starts the all-in-one Wharf (from dist) and CNCF
 * Distribution (/usr/bin/docker-registry) on free ports in temp dirs, runs the benchmark against
 * both (Wharf as target, Distribution as baseline), then stops them and removes their data.
 *
 *   --wharf-main FILE      Wharf's entry point (default: dist/apps/registry/src/main.js)
 *   --distribution FILE    the Distribution binary (default: /usr/bin/docker-registry)
 *   --baseline-wharf-main FILE   another Wharf build as the baseline instead of Distribution (to
 *                          measure one optimisation: the build without it against the build with it)
 *   --keep                 leave the data dirs in place
 * WHARF_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the Wharf process.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
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
  const keepAt = args.indexOf('--keep');
  const keep = keepAt >= 0;
  if (keep) args.splice(keepAt, 1);
  const servers: Server[] = [];
  const stopAll = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (!keep) for (const s of servers) rmSync(s.dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    const wharf = await startWharf({ main: wharfMain });
    servers.push(wharf);
    const dist = baselineWharf
      ? await startWharf({ main: baselineWharf })
      : await startDistribution({ binary: distribution });
    servers.push(dist);
    const baselineLabel = baselineWharf ? 'Wharf before' : 'Distribution';
    console.error(`wharf        ${wharf.url} pid ${wharf.pid} data ${wharf.dir}`);
    console.error(`${baselineLabel.padEnd(12)} ${dist.url} pid ${dist.pid} data ${dist.dir}`);
    const cli = parseOptions(
      [
        ...args,
        '--target',
        wharf.url,
        '--target-pid',
        String(wharf.pid),
        '--target-label',
        'Wharf',
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
      if (baselineWharf) throw new Error('no Distribution');
      distVersion = execFileSync(distribution, ['--version']).toString().trim();
    } catch {
      // only for the record
    }
    const ok = await runBench(cli, {
      registries: baselineWharf
        ? { wharf: { main: wharfMain }, baselineWharf: { main: baselineWharf } }
        : { wharf: { main: wharfMain }, distribution: { binary: distribution, version: distVersion } },
    });
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
