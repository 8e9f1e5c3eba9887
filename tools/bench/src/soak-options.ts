import { parseArgs } from 'node:util';
import { splitUrls } from './client';
import { parseCount, type Replicas } from './distributed';
import type { Proc } from './model';
import { parseProcesses } from './options';

export const SOAK_USAGE = `usage: npm run bench:soak -- [options]

  --target URL[,URL…]  registry under test (default: start the all-in-one from dist); several URLs
                       of one registry (its gateways): the load is spread over them
  --target-pid [NAME=]PID[,…]   its processes, for RSS (default: the started ones)
  --distributed        start the distributed shape from dist/apps (the machine's PostgreSQL and NATS)
                       instead of the all-in-one
  --gateways N         its gateways (default 2): connections and pushers are spread over them
  --metadata N         its metadata replicas (default 1)
  --blobs N            its blob replicas (default 1)
  --baseline distribution   also soak Distribution 2.8 (/usr/bin/docker-registry), after the target
  --duration SECONDS   length of the load (default 600)
  --connections N      pulling connections (default 256)
  --pushers N          clients pushing 1–8 MiB images in a loop (default 4)
  --threads N          wrk threads (default 2; rounded up to a multiple of the gateways)
  --json FILE          write the results as JSON
  --check              exit 1 when a target is missed (zero requests over 2 s, zero socket errors,
                       zero failed pushes, p99 <= 250 ms, RSS growth <= 100 MiB of every process)
  --smoke              CI: 10 s, 32 connections, 2 pushers; fails on errors only
`;

export interface SoakOptions {
  help: boolean;
  /** A running registry's URLs; undefined to start one. */
  target?: string[];
  targetProcesses: Proc[];
  /** Start the distributed shape with these replicas (when no --target). */
  distributed?: Replicas;
  baseline?: 'distribution';
  seconds: number;
  connections: number;
  pushers: number;
  threads: number;
  json?: string;
  check: boolean;
  smoke: boolean;
}

function count(name: string, s: string | undefined, dflt: number, min = 1): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}: expected a number >= ${min}, got "${s}"`);
  return n;
}

export function parseSoakOptions(argv: string[]): SoakOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      'target-pid': { type: 'string' },
      distributed: { type: 'boolean', default: false },
      gateways: { type: 'string' },
      metadata: { type: 'string' },
      blobs: { type: 'string' },
      baseline: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      pushers: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'string' },
      check: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.baseline !== undefined && values.baseline !== 'distribution') {
    throw new Error(`--baseline: only "distribution" is known\n\n${SOAK_USAGE}`);
  }
  const distributed = values.distributed ?? false;
  const shapeFlags = ['gateways', 'metadata', 'blobs'] as const;
  if (!distributed && shapeFlags.some((f) => values[f] !== undefined)) {
    throw new Error(
      '--gateways, --metadata and --blobs are replicas of the distributed shape: add --distributed',
    );
  }
  if (distributed && values.target !== undefined) {
    throw new Error('--distributed starts the distributed shape: give either it or --target');
  }
  const smoke = values.smoke ?? false;
  return {
    help: values.help ?? false,
    target: values.target === undefined ? undefined : splitUrls(values.target),
    targetProcesses: parseProcesses(values['target-pid']),
    distributed: distributed
      ? {
          gateway: parseCount('--gateways', values.gateways, 2),
          metadata: parseCount('--metadata', values.metadata, 1),
          blob: parseCount('--blobs', values.blobs, 1),
        }
      : undefined,
    baseline: values.baseline as 'distribution' | undefined,
    seconds: count('--duration', values.duration, smoke ? 10 : 600),
    connections: count('--connections', values.connections, smoke ? 32 : 256),
    pushers: count('--pushers', values.pushers, smoke ? 2 : 4),
    threads: count('--threads', values.threads, 2),
    json: values.json,
    check: values.check ?? false,
    smoke,
  };
}
