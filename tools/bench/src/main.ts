/**
 * `npm run bench -- --target URL [--baseline URL] [--quick] [--json out.json]`: a registry-neutral
 * benchmark (HTTP API V2 calls only). See docs/performance.md.
 */
import { writeFileSync } from 'node:fs';
import { rmSync } from 'node:fs';
import { Bench, writeJson } from './bench';
import { RegistryClient } from './client';
import type { Side } from './model';
import { parseOptions, type CliOptions } from './options';
import { startBare, tempDir } from './processes';
import { machine, markdown, table } from './report';

/** `goals: false` when the baseline is not the one the targets name (e.g. distributed vs all-in-one). */
export async function runBench(
  cli: CliOptions,
  extra: Record<string, unknown> = {},
  opts: { goals?: boolean } = {},
): Promise<boolean> {
  const sides: Side[] = [
    {
      key: 'target',
      label: cli.targetLabel,
      url: cli.target,
      client: new RegistryClient(cli.target),
      processes: cli.targetProcesses,
    },
  ];
  if (cli.baseline) {
    sides.push({
      key: 'baseline',
      label: cli.baselineLabel,
      url: cli.baseline,
      client: new RegistryClient(cli.baseline),
      processes: cli.baselineProcesses,
    });
  }
  const useBare = cli.bare && cli.bench.sections.has('blob-get');
  const bareDir = useBare ? tempDir('bench-bare-') : undefined;
  const bare = bareDir ? await startBare(bareDir) : undefined;
  if (bare)
    sides.push({
      key: 'bare',
      label: 'bare node',
      url: bare.url,
      client: new RegistryClient(bare.url),
      processes: [{ name: 'bare', pid: bare.pid }],
    });
  const startedAt = new Date().toISOString();
  const bench = new Bench(sides, cli.bench, bareDir);
  let metrics;
  try {
    metrics = await bench.run();
  } finally {
    await Promise.all(sides.map((s) => s.client.close()));
    await bare?.stop();
    if (bareDir) rmSync(bareDir, { recursive: true, force: true });
  }
  if (opts.goals === false) for (const m of metrics) delete m.goals;
  const out = table(metrics, sides);
  console.log(out);
  if (cli.json) {
    writeJson(cli.json, {
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: machine(),
      ...extra,
      options: { ...cli.bench, sections: [...cli.bench.sections], log: undefined },
      sides: sides.map(({ key, label, url, processes }) => ({ key, label, url, processes })),
      metrics,
    });
  }
  if (cli.markdown) writeFileSync(cli.markdown, markdown(metrics, sides) + '\n');
  // Every failure on the target fails the run (CI's smoke run relies on it); the baseline may lack features.
  return metrics.every((m) => m.errors.target === undefined);
}

if (require.main === module) {
  let cli: CliOptions;
  try {
    cli = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  runBench(cli).then(
    (ok) => process.exit(ok ? 0 : 1),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
