import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MiB, parseBytes } from './content';

export const PROXY_PULL_USAGE = `usage: npm run bench:proxy -- [options]

Pulls images four ways, side by side in one run, each round in alternating order, and reports the
median of each: straight from Distribution 2.8 (direct), through Wharf's pull-through cache before it
holds the image (cold) and after (warm), and an image pushed to Wharf (local).

  --rounds N           timed rounds (default 7; at least 3 for figures worth reporting), after one
                       untimed warm-up round
  --images N           images seeded into Distribution (default: rounds + 1; one per round and the
                       warm-up's)
  --layers N           layers per image (default 4)
  --layer-size SIZE    bytes per layer: 16m, 512k, 1g (default 16m); random, none shared
  --downloads N        concurrent blob downloads per pull (default 3, docker's)
  --upstream-rate MB/s the upstream behind one shared link of this rate, as across the internet (both
                       the direct pulls and Wharf's fetches go through it); unset: loopback
  --distributed        Wharf's distributed shape from dist/apps (the machine's PostgreSQL and NATS)
                       instead of the all-in-one
  --wharf-main FILE    the all-in-one's entry point (default: dist/apps/registry/src/main.js)
  --distribution FILE  Distribution's binary (default: /usr/bin/docker-registry)
  --json FILE          write the samples, medians and ratios as JSON
  --check              exit 1 when a goal is missed (cold / direct <= 1.10, warm / local <= 1.10)
  --keep               leave the registries' data dirs in place
`;

export interface ProxyPullOptions {
  help: boolean;
  rounds: number;
  images: number;
  layers: number;
  layerSize: number;
  downloads: number;
  /** Bytes per second of the link to the upstream; undefined for plain loopback. */
  upstreamRate?: number;
  distributed: boolean;
  wharfMain: string;
  /** dist/apps, for the distributed shape. */
  apps: string;
  distribution: string;
  json?: string;
  check: boolean;
  keep: boolean;
}

function count(name: string, s: string | undefined, dflt: number, min: number): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${name}: expected a whole number >= ${min}, got "${s}"`);
  return n;
}

/** `distDir` is dist/ (where the built apps are). */
export function parseProxyPullOptions(argv: string[], distDir: string): ProxyPullOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      images: { type: 'string' },
      layers: { type: 'string' },
      'layer-size': { type: 'string' },
      downloads: { type: 'string' },
      'upstream-rate': { type: 'string' },
      distributed: { type: 'boolean', default: false },
      'wharf-main': { type: 'string' },
      distribution: { type: 'string' },
      json: { type: 'string' },
      check: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const rounds = count('--rounds', values.rounds, 7, 1);
  const images = count('--images', values.images, rounds + 1, rounds + 1);
  const layerSize = values['layer-size'] === undefined ? 16 * MiB : parseBytes(values['layer-size']);
  if (layerSize < 1) throw new Error('--layer-size: at least 1 byte');
  if (values.distributed && values['wharf-main'] !== undefined) {
    throw new Error('--wharf-main names the all-in-one: drop it or --distributed');
  }
  return {
    help: values.help ?? false,
    rounds,
    images,
    layers: count('--layers', values.layers, 4, 1),
    layerSize,
    downloads: count('--downloads', values.downloads, 3, 1),
    upstreamRate:
      values['upstream-rate'] === undefined
        ? undefined
        : count('--upstream-rate', values['upstream-rate'], 0, 1) * 1e6,
    distributed: values.distributed ?? false,
    wharfMain: values['wharf-main'] ?? join(distDir, 'apps/registry/src/main.js'),
    apps: join(distDir, 'apps'),
    distribution: values.distribution ?? '/usr/bin/docker-registry',
    json: values.json,
    check: values.check ?? false,
    keep: values.keep ?? false,
  };
}
