import { performance } from 'node:perf_hooks';
import type { Bench } from '../bench';
import { layerOf, makeImage } from '../client';
import { Content, formatBytes } from '../content';
import { processesCpuSeconds } from '../cpu';
import { settleDisk } from '../disk';
import type { MetricSpec } from '../model';
import { percentile } from '../stats';

// The write path: single blob pushes (monolithic and chunked) and many image pushes at once.

const PUSH_REPO = 'bench/push';

export async function pushSection(b: Bench): Promise<void> {
  const { chunkSize, runId } = b.opts;
  // Both sides push the same new content: hashed once, for the first.
  const contents = new Map<string, Content>();
  const contentFor = (seed: string, size: number): Content => {
    let c = contents.get(seed);
    if (!c) {
      c = new Content(seed, size);
      contents.set(seed, c);
    }
    return c;
  };
  b.opts.log(`push: monolithic and chunked (${formatBytes(chunkSize)} chunks), new content each time`);
  for (let round = 0; round < b.opts.rounds; round++) {
    for (const size of b.opts.blobSizes) {
      for (const mode of ['monolithic', 'chunked'] as const) {
        const spec: MetricSpec = {
          id: `push.${mode}.${size}`,
          section: 'push',
          name: `${mode} push ${formatBytes(size)}`,
          unit: 'MB/s',
          better: 'higher',
          goals: [{ kind: 'ratio-min', value: 1 }],
        };
        const cpu: MetricSpec = {
          id: `push.${mode}.${size}.cpu`,
          section: 'push',
          name: `${spec.name}: server CPU per GB`,
          unit: 'CPU s/GB',
          better: 'lower',
        };
        // A registry may answer 201 before the bytes are on disk (Distribution 2.8 never syncs);
        // this one also times the `sync` after the cell, so both sides are measured to durable.
        const durable: MetricSpec = {
          id: `push.${mode}.${size}.durable`,
          section: 'push',
          name: `${spec.name}, until on disk`,
          unit: 'MB/s',
          better: 'higher',
        };
        for (const side of b.order(round, b.registries)) {
          // Both sides push the same new blobs: seeds name run, round and iteration, not the side.
          let i = 0;
          let content!: Content;
          let bytes = 0;
          try {
            // Sampled around the whole cell, not per push: reading the process tree's CPU walks
            // /proc (~1.5 ms here), which inside the timed window would be a third of a 1 MiB push.
            // Between pushes the registry is idle, so the figure is still the pushes' own.
            settleDisk();
            const cpu0 = processesCpuSeconds(side.processes) ?? 0;
            const mbps = await b.transferRate(
              async () => {
                if (mode === 'monolithic') await side.client.pushMonolithic(PUSH_REPO, content);
                else await side.client.pushChunked(PUSH_REPO, content, chunkSize);
                bytes += content.size;
                return content.size;
              },
              () => {
                content = contentFor(`push-${mode}-${size}-${runId}-${round}-${i++}`, size);
                content.digest();
              },
            );
            const cpuSeconds = (processesCpuSeconds(side.processes) ?? 0) - cpu0;
            const synced = performance.now();
            settleDisk();
            const syncSeconds = (performance.now() - synced) / 1000;
            b.record(spec, side.key, mbps);
            if (side.processes.length) b.record(cpu, side.key, cpuSeconds / (bytes / 1e9));
            b.record(durable, side.key, bytes / 1e6 / (bytes / 1e6 / mbps + syncSeconds));
            b.opts.log(
              `  r${round} ${side.label.padEnd(12)} ${spec.name.padEnd(34)} ${mbps.toFixed(0).padStart(6)} MB/s`,
            );
          } catch (e) {
            b.fail(spec, side.key, e);
          }
        }
      }
    }
  }
}

export async function concurrentPushSection(b: Bench): Promise<void> {
  const { concurrentPushes: n, runId } = b.opts;
  const shared = b.opts.sharedLayerSizes.map((size, i) => new Content(`shared-${i}`, size));
  b.opts.log(
    `concurrent push: ${n} images sharing ${shared.map((c) => formatBytes(c.size)).join(' + ')}, each with a ${formatBytes(b.opts.uniqueLayerSize)} layer of its own`,
  );
  const rate: MetricSpec = {
    id: 'concurrent.images-per-s',
    section: 'concurrent push',
    name: `${n} concurrent image pushes`,
    unit: 'images/s',
    better: 'higher',
    goals: [{ kind: 'ratio-min', value: 1 }],
  };
  const p99: MetricSpec = {
    id: 'concurrent.p99',
    section: 'concurrent push',
    name: `${n} concurrent pushes, p99 per image`,
    unit: 'ms',
    better: 'lower',
  };
  for (let round = 0; round < b.opts.rounds; round++) {
    const images = Array.from({ length: n }, (_, i) => {
      const own = new Content(`unique-${runId}-${round}-${i}`, b.opts.uniqueLayerSize);
      const layers = [...shared, own];
      return {
        image: makeImage(`concurrent-${runId}-${round}-${i}`, layers.map(layerOf)),
        layers: new Map(layers.map((c) => [c.digest(), c])),
      };
    });
    for (const side of b.order(round, b.registries)) {
      const repo = `bench/concurrent-${runId}-r${round}`;
      try {
        settleDisk();
        const times: number[] = [];
        const t0 = performance.now();
        await Promise.all(
          images.map(async ({ image, layers }, i) => {
            const a = performance.now();
            await side.client.pushImage(repo, `image-${i}`, image, layers);
            times.push(performance.now() - a);
          }),
        );
        const s = (performance.now() - t0) / 1000;
        b.record(rate, side.key, n / s);
        b.record(p99, side.key, percentile(times, 99));
        b.opts.log(`  r${round} ${side.label.padEnd(12)} ${n} images in ${s.toFixed(2)} s`);
      } catch (e) {
        b.fail(rate, side.key, e);
      }
    }
  }
}
