import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { GiB, KiB, MiB, parseBytes } from './content';
import { SECTIONS, type BenchOptions, type Proc } from './model';

export const USAGE = `usage: npm run bench -- --target URL [--baseline URL] [options]

  --target URL[,URL…]     registry under test (e.g. http://127.0.0.1:5001); several URLs of one
                          registry (its gateways): requests are spread over them
  --baseline URL[,URL…]   second registry, measured side by side, alternating in rounds
  --target-pid [NAME=]PID[,…]   the target's processes: server CPU (each one's tree, summed) and
  --baseline-pid [NAME=]PID[,…] RSS during the big push/pull (VmRSS of each process, not its children)
  --target-label NAME     names in the table (default: target, baseline)
  --baseline-label NAME
  --quick                 smoke mode for CI: small sizes, few requests, well under a minute
  --json FILE             write every figure (per-round samples too) as JSON
  --markdown FILE         write the table as Markdown
  --rounds N              rounds per cell (default 3, quick 1)
  --only a,b              sections: ${SECTIONS.join(',')}
  --skip a,b              sections to leave out
  --duration SECONDS      manifest load per cell and round (default 3, quick 0.3)
  --concurrency 1,32,256  manifest load concurrencies
  --blob-sizes 1m,10m,100m,1g   blob GET and push sizes
  --listing-sizes 10000,100000  tags list / catalog sizes to seed and page through
  --page-size N           n= for tags list and catalog pages (default 1000)
  --pages N               pages sampled per listing, side and round (default 20)
  --seed-concurrency N    concurrent requests while seeding listings (default 64)
  --seed-budget SECONDS   time a side may spend seeding one listing level (default 900)
  --rss-size SIZE         blob pushed and pulled while RSS is sampled (default 4g, quick 64m)
  --no-bare               skip the bare Node file server for blob GET
`;

export interface CliOptions {
  target: string;
  baseline?: string;
  targetProcesses: Proc[];
  baselineProcesses: Proc[];
  targetLabel: string;
  baselineLabel: string;
  json?: string;
  markdown?: string;
  bare: boolean;
  bench: BenchOptions;
}

function list<T>(s: string | undefined, parse: (x: string) => T): T[] | undefined {
  return s === undefined ? undefined : s.split(',').filter(Boolean).map(parse);
}

function int(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${s}`);
  return n;
}

/** `123` or `gateway-1=123,blob-1=124` → the processes (a bare PID is named `pid 123`). */
export function parseProcesses(s: string | undefined): Proc[] {
  return (list(s, String) ?? []).map((item) => {
    const m = /^(?:([^=]+)=)?(\d+)$/.exec(item.trim());
    if (!m) throw new Error(`not a PID or NAME=PID: ${item}`);
    return { name: m[1] ?? `pid ${m[2]}`, pid: Number(m[2]) };
  });
}

/** The form --target-pid takes, for the processes a runner started. */
export function formatProcesses(procs: readonly Proc[]): string {
  return procs.map((p) => `${p.name}=${p.pid}`).join(',');
}

export function parseOptions(argv: string[], opts: { requireTarget?: boolean } = {}): CliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      baseline: { type: 'string' },
      'target-pid': { type: 'string' },
      'baseline-pid': { type: 'string' },
      'target-label': { type: 'string' },
      'baseline-label': { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      markdown: { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      skip: { type: 'string' },
      duration: { type: 'string' },
      concurrency: { type: 'string' },
      'blob-sizes': { type: 'string' },
      'listing-sizes': { type: 'string' },
      'page-size': { type: 'string' },
      pages: { type: 'string' },
      'seed-concurrency': { type: 'string' },
      'seed-budget': { type: 'string' },
      'rss-size': { type: 'string' },
      'no-bare': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (opts.requireTarget !== false && !values.target) throw new Error(`--target is required\n\n${USAGE}`);
  const quick = values.quick ?? false;
  const unknown = [...(list(values.only, String) ?? []), ...(list(values.skip, String) ?? [])].filter(
    (s) => !(SECTIONS as readonly string[]).includes(s),
  );
  if (unknown.length)
    throw new Error(`unknown section(s): ${unknown.join(', ')} (known: ${SECTIONS.join(', ')})`);
  const sections = new Set<string>(list(values.only, String) ?? SECTIONS);
  for (const s of list(values.skip, String) ?? []) sections.delete(s);
  const bench: BenchOptions = {
    quick,
    rounds: int(values.rounds) ?? (quick ? 1 : 3),
    sections,
    warmupMs: quick ? 100 : 500,
    durationMs: (int(values.duration) ?? (quick ? 0.3 : 3)) * 1000,
    concurrencies: list(values.concurrency, Number) ?? (quick ? [1, 32] : [1, 32, 256]),
    blobSizes:
      list(values['blob-sizes'], parseBytes) ?? (quick ? [MiB, 10 * MiB] : [MiB, 10 * MiB, 100 * MiB, GiB]),
    transferMs: quick ? 200 : 2000,
    chunkSize: 5 * MiB,
    concurrentPushes: 20,
    sharedLayerSizes: quick ? [256 * KiB, 64 * KiB] : [16 * MiB, 4 * MiB, MiB],
    uniqueLayerSize: quick ? 16 * KiB : MiB,
    listingSizes: list(values['listing-sizes'], Number) ?? (quick ? [100, 300] : [10_000, 100_000]),
    pageSize: int(values['page-size']) ?? (quick ? 50 : 1000),
    pagesPerRound: int(values.pages) ?? (quick ? 4 : 20),
    seedConcurrency: int(values['seed-concurrency']) ?? (quick ? 16 : 64),
    seedBudgetS: int(values['seed-budget']) ?? 900,
    rssSize: values['rss-size'] ? parseBytes(values['rss-size']) : quick ? 64 * MiB : 4 * GiB,
    runId: randomBytes(3).toString('hex'),
    log: (line) => console.error(line),
  };
  return {
    target: values.target ?? '',
    baseline: values.baseline,
    targetProcesses: parseProcesses(values['target-pid']),
    baselineProcesses: parseProcesses(values['baseline-pid']),
    targetLabel: values['target-label'] ?? 'target',
    baselineLabel: values['baseline-label'] ?? 'baseline',
    json: values.json,
    markdown: values.markdown,
    bare: !(values['no-bare'] ?? false),
    bench,
  };
}
