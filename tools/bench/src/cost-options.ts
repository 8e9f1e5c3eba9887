import { parseArgs } from 'node:util';
import { parseBytes } from './content';

/** The operations measured, in the order they are run and reported. */
export const OP_IDS = [
  'get-tag',
  'head-tag',
  'get-digest',
  'blob-get',
  'push',
  'move-1gw',
  'get-tag-uncached',
  'move-2gw',
] as const;
export type OpId = (typeof OP_IDS)[number];

export const COST_USAGE = `usage: npm run bench:cost -- [options]

Starts the distributed shape from dist/apps (1 gateway, 1 metadata, 1 blob service on the machine's
PostgreSQL and NATS; again with the gateway cache off, and with 2 gateways, for the operations that
need it) and reports the CPU each process spends per operation.

  --duration SECONDS   length of each measured load (default 5)
  --blob-size SIZE     the blob GET and pushed (default 256m)
  --pushes N           monolithic pushes in the push window and again in its counting pass, new
                       content each (default 4)
  --connections N      concurrent requests of the manifest loads (default 32)
  --threads N          wrk threads (default 2)
  --count N            requests per manifest operation in the counting pass (default 200)
  --settle SECONDS     wait after a counting pass before reading Postgres's counters (default 11:
                       an idle backend reports its last second of statistics up to 10 s late)
  --ops LIST           only these, comma-separated: ${OP_IDS.join(', ')}
  --no-wrk             undici for every load even where wrk is installed
  --markdown FILE      write the table as Markdown
  --json FILE          write every figure as JSON
`;

export interface CostOptions {
  help: boolean;
  seconds: number;
  blobSize: number;
  pushes: number;
  connections: number;
  threads: number;
  count: number;
  settleSeconds: number;
  ops: OpId[];
  wrk: boolean;
  markdown?: string;
  json?: string;
}

function num(name: string, s: string | undefined, dflt: number, min: number, integer = true): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new Error(`${name}: expected ${integer ? 'a whole number' : 'a number'} >= ${min}, got "${s}"`);
  }
  return n;
}

export function parseOpList(list: string): OpId[] {
  const wanted = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = wanted.filter((w) => !(OP_IDS as readonly string[]).includes(w));
  if (unknown.length) throw new Error(`--ops: unknown ${unknown.join(', ')} (known: ${OP_IDS.join(', ')})`);
  if (!wanted.length) throw new Error('--ops: no operation named');
  return OP_IDS.filter((id) => wanted.includes(id));
}

export function parseCostOptions(argv: string[]): CostOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      'blob-size': { type: 'string' },
      pushes: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      count: { type: 'string' },
      settle: { type: 'string' },
      ops: { type: 'string' },
      'no-wrk': { type: 'boolean', default: false },
      markdown: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const blobSize = values['blob-size'] === undefined ? 256 * 2 ** 20 : parseBytes(values['blob-size']);
  if (blobSize < 1) throw new Error('--blob-size: at least one byte');
  return {
    help: values.help ?? false,
    seconds: num('--duration', values.duration, 5, 1, false),
    blobSize,
    pushes: num('--pushes', values.pushes, 4, 1),
    connections: num('--connections', values.connections, 32, 1),
    threads: num('--threads', values.threads, 2, 1),
    count: num('--count', values.count, 200, 1),
    settleSeconds: num('--settle', values.settle, 11, 0, false),
    ops: values.ops === undefined ? [...OP_IDS] : parseOpList(values.ops),
    wrk: !(values['no-wrk'] ?? false),
    markdown: values.markdown,
    json: values.json,
  };
}
