import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import type { Bench } from '../bench';
import { PULL_ACCEPT, exchange, layerOf, makeImage, newPool, type Image } from '../client';
import { Content, KiB, formatBytes } from '../content';
import { processesCpuSeconds } from '../cpu';
import { settleDisk } from '../disk';
import type { MetricSpec, Side } from '../model';
import { closedLoop } from '../stats';

// The read path: manifest GET/HEAD under load, blob GET throughput against the bare server.

const MANIFEST_REPO = 'bench/manifest';
const BLOB_REPO = 'bench/blobs';

/** Pushes the small image the manifest cells read, to every registry. */
export async function pushManifestImage(b: Bench): Promise<Image> {
  const layer = new Content('manifest-layer', 2 * KiB);
  const image = makeImage('manifest', [layerOf(layer)]);
  const layers = new Map([[layer.digest(), layer]]);
  for (const side of b.registries) {
    await side.client.pushImage(MANIFEST_REPO, 'latest', image, layers);
  }
  return image;
}

export async function manifestSection(b: Bench, image: Image): Promise<void> {
  const { rounds, concurrencies } = b.opts;
  b.opts.log(`manifest GET/HEAD: ${rounds} rounds × ${b.opts.durationMs} ms per cell`);
  for (let round = 0; round < rounds; round++) {
    for (const method of ['GET', 'HEAD'] as const) {
      for (const by of ['tag', 'digest'] as const) {
        for (const c of concurrencies) {
          const ref = by === 'tag' ? 'latest' : image.digest;
          const path = `/v2/${MANIFEST_REPO}/manifests/${ref}`;
          const base = `manifest.${method}.${by}.c${c}`;
          const name = `${method} by ${by}, c=${c}`;
          const rps: MetricSpec = {
            id: `${base}.rps`,
            section: 'manifest',
            name: `${name}`,
            unit: 'req/s',
            better: 'higher',
            goals: method === 'GET' && by === 'tag' ? [{ kind: 'ratio-min', value: 5 }] : undefined,
          };
          const p50: MetricSpec = {
            id: `${base}.p50`,
            section: 'manifest',
            name: `${name} p50`,
            unit: 'ms',
            better: 'lower',
          };
          const p99: MetricSpec = {
            id: `${base}.p99`,
            section: 'manifest',
            name: `${name} p99`,
            unit: 'ms',
            better: 'lower',
            goals: method === 'GET' && by === 'tag' ? [{ kind: 'ratio-max', value: 1 }] : undefined,
          };
          const cpu: MetricSpec = {
            id: `${base}.cpu`,
            section: 'manifest',
            name: `${name} server CPU per request`,
            unit: 'µs',
            better: 'lower',
          };
          for (const side of b.order(round, b.registries)) {
            try {
              const r = await manifestLoad(b, side, method, path, c, image);
              b.record(rps, side.key, r.rps);
              b.record(p50, side.key, r.p50);
              b.record(p99, side.key, r.p99);
              if (r.probed !== undefined) b.record(cpu, side.key, (r.probed / r.requests) * 1e6);
              b.opts.log(
                `  r${round} ${side.label.padEnd(12)} ${name.padEnd(22)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms`,
              );
            } catch (e) {
              b.fail(rps, side.key, e);
            }
          }
        }
      }
    }
  }
}

async function manifestLoad(
  b: Bench,
  side: Side,
  method: 'GET' | 'HEAD',
  path: string,
  c: number,
  image: Image,
) {
  const pool = newPool(side.client.origins, c);
  const headers = { accept: PULL_ACCEPT };
  const size = image.manifest.length;
  // undici closes the connection after a HEAD unless told not to; real clients (Go's net/http) keep it.
  const opts: Dispatcher.DispatchOptions = { method, path, headers, reset: false };
  try {
    const r = await closedLoop({
      concurrency: c,
      warmupMs: b.opts.warmupMs,
      durationMs: b.opts.durationMs,
      probe: side.processes.length ? () => processesCpuSeconds(side.processes)! : undefined,
      fire: async () => {
        const res = await exchange(pool, opts);
        const ok = res.status === 200 && res.headers['content-length'] === String(size);
        return ok && res.bytes === (method === 'HEAD' ? 0 : size);
      },
    });
    if (r.errors) throw new Error(`${r.errors} of ${r.requests} answers were wrong (${r.firstError ?? ''})`);
    if (!r.requests) throw new Error(`no answer (${r.firstError ?? 'timeout'})`);
    return r;
  } finally {
    await pool.close();
  }
}

export async function blobGetSection(b: Bench): Promise<void> {
  const sizes = b.opts.blobSizes;
  const contents = sizes.map((size) => new Content(`get-${size}`, size));
  b.opts.log(`blob GET: pushing ${sizes.map(formatBytes).join(', ')}`);
  for (const c of contents) {
    for (const side of b.registries) {
      if (!(await side.client.blobExists(BLOB_REPO, c.digest()))) {
        await side.client.pushMonolithic(BLOB_REPO, c);
      }
    }
    if (b.bare && b.bareDir) await writeContent(join(b.bareDir, c.digest().slice(7)), c);
  }
  // The pushes above are still being written out; reads measured during that would be the disk's.
  settleDisk();
  const sides = b.sides;
  for (let round = 0; round < b.opts.rounds; round++) {
    for (const c of contents) {
      for (const ranged of [false, true]) {
        const range: [number, number] | undefined = ranged
          ? [Math.floor(c.size / 4), Math.floor(c.size / 4) + Math.floor(c.size / 2) - 1]
          : undefined;
        const expected = range ? range[1] - range[0] + 1 : c.size;
        const spec: MetricSpec = {
          id: `blob-get.${c.size}.${ranged ? 'range' : 'full'}`,
          section: 'blob GET',
          name: `GET ${formatBytes(c.size)}${ranged ? ', Range (middle half)' : ''}`,
          unit: 'MB/s',
          better: 'higher',
          goals: [
            { kind: 'ratio-min', value: 0.9 },
            { kind: 'bare-min', value: 0.9 },
          ],
        };
        const cpu: MetricSpec = {
          id: `blob-get.${c.size}.${ranged ? 'range' : 'full'}.cpu`,
          section: 'blob GET',
          name: `${spec.name}: server CPU per GB`,
          unit: 'CPU s/GB',
          better: 'lower',
        };
        const path = (side: Side) =>
          side.key === 'bare' ? `/${c.digest().slice(7)}` : `/v2/${BLOB_REPO}/blobs/${c.digest()}`;
        const live: Side[] = [];
        for (const side of b.order(round, sides)) {
          try {
            // One untimed GET first: page cache, connection and JIT are warm for every side alike.
            await side.client.readBlob(path(side), expected, range);
            live.push(side);
          } catch (e) {
            b.fail(spec, side.key, e);
          }
        }
        const totals = await b.interleaved(
          round,
          live,
          (side) => side.client.readBlob(path(side), expected, range),
          (side, e) => b.fail(spec, side.key, e),
        );
        for (const side of live) {
          const t = totals.get(side.key);
          if (!t) continue;
          const mbps = t.bytes / 1e6 / (t.ms / 1000);
          b.record(spec, side.key, mbps);
          if (side.processes.length) b.record(cpu, side.key, t.cpuSeconds / (t.bytes / 1e9));
          b.opts.log(
            `  r${round} ${side.label.padEnd(12)} ${spec.name.padEnd(34)} ${mbps.toFixed(0).padStart(6)} MB/s`,
          );
        }
      }
    }
  }
}

async function writeContent(file: string, c: Content): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true });
  const fh = await open(file, 'w');
  try {
    for (const s of c.slices()) await fh.write(s);
  } finally {
    await fh.close();
  }
}
