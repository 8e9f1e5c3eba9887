import { join } from 'node:path';
import { ONE_EACH, parseCount, type Replicas } from './distributed';

export const COMPARE_USAGE = `usage: npm run bench:compare -- [options] [harness options]

Starts the registries itself (free ports, temp dirs), runs the harness against them, stops them.

  --distributed             target: the distributed shape from dist/apps (on the machine's PostgreSQL
                            and NATS) instead of the all-in-one
  --gateways N              its gateways (default 1): the client spreads its connections over them
  --metadata N              its metadata replicas (default 1)
  --blobs N                 its blob replicas (default 1)
  --baseline distribution|wharf
                            distribution: Debian's Distribution 2.8 (the default without --distributed)
                            wharf: the all-in-one (the default with --distributed: the cost of the hops)
  --wharf-main FILE         Wharf's entry point (default: dist/apps/registry/src/main.js)
  --distribution FILE       the Distribution binary (default: /usr/bin/docker-registry)
  --baseline-wharf-main FILE   another all-in-one build as the baseline (implies --baseline wharf)
  --keep                    leave the data dirs in place
  --data DIR                keep each registry's data in DIR/<name> and reuse it next time
`;

export type BaselineKind = 'distribution' | 'wharf';

export interface CompareOptions {
  wharfMain: string;
  distribution: string;
  /** The all-in-one build the `wharf` baseline runs. */
  baselineWharfMain: string;
  /** An explicit other build (--baseline-wharf-main): an optimisation's before and after. */
  otherBuild: boolean;
  baseline: BaselineKind;
  distributed: boolean;
  replicas: Replicas;
  data?: string;
  keep: boolean;
  /** What is left for the harness (parseOptions). */
  rest: string[];
}

/** Takes bench:compare's own options out of `argv`; the harness's stay in `rest`. */
export function parseCompareOptions(argv: string[], distDir: string): CompareOptions {
  const args = [...argv];
  const take = (name: string): string | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const [, value] = args.splice(i, 2);
    if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`);
    return value;
  };
  const flag = (name: string): boolean => {
    const at = args.indexOf(name);
    if (at >= 0) args.splice(at, 1);
    return at >= 0;
  };
  const wharfMain = take('--wharf-main') ?? join(distDir, 'apps/registry/src/main.js');
  const distribution = take('--distribution') ?? '/usr/bin/docker-registry';
  const other = take('--baseline-wharf-main');
  const distributed = flag('--distributed');
  const replicas: Replicas = {
    gateway: parseCount('--gateways', take('--gateways'), ONE_EACH.gateway),
    metadata: parseCount('--metadata', take('--metadata'), ONE_EACH.metadata),
    blob: parseCount('--blobs', take('--blobs'), ONE_EACH.blob),
  };
  const asked = take('--baseline');
  if (asked !== undefined && asked !== 'distribution' && asked !== 'wharf') {
    throw new Error(`--baseline: "distribution" or "wharf", not "${asked}" (bench:compare starts it itself)`);
  }
  if (asked === 'distribution' && other) {
    throw new Error('--baseline-wharf-main names a Wharf baseline: drop --baseline distribution');
  }
  if (!distributed && (replicas.gateway > 1 || replicas.metadata > 1 || replicas.blob > 1)) {
    throw new Error(
      '--gateways, --metadata and --blobs are replicas of the distributed shape: add --distributed',
    );
  }
  const baseline: BaselineKind = asked ?? (other || distributed ? 'wharf' : 'distribution');
  const data = take('--data');
  const keep = flag('--keep') || data !== undefined;
  return {
    wharfMain,
    distribution,
    baselineWharfMain: other ?? wharfMain,
    otherBuild: other !== undefined,
    baseline,
    distributed,
    replicas,
    data,
    keep,
    rest: args,
  };
}

/** The table's column name for the baseline. */
export function baselineLabel(o: CompareOptions): string {
  if (o.baseline === 'distribution') return 'Distribution';
  return o.otherBuild ? 'Wharf before' : 'Wharf AIO';
}
