import { performance } from 'node:perf_hooks';
import type { Bench } from '../bench';
import { Content, formatBytes } from '../content';
import { settleDisk } from '../disk';
import type { MetricSpec } from '../model';
import { RssSampler } from '../rss';

// RSS of the registry process while one big blob streams in and out.

const RSS_REPO = 'bench/rss';

export async function memorySection(b: Bench): Promise<void> {
  const size = b.opts.rssSize;
  const sides = b.registries.filter((s) => s.pid);
  if (!sides.length) {
    b.opts.log('rss: skipped (no --target-pid / --baseline-pid)');
    return;
  }
  const content = new Content(`rss-${size}-${b.opts.runId}`, size);
  b.opts.log(`rss: hashing ${formatBytes(size)}`);
  content.digest();
  for (const side of sides) {
    for (const phase of ['push', 'pull'] as const) {
      const growth: MetricSpec = {
        id: `rss.${phase}.growth`,
        section: 'memory',
        name: `RSS growth during a ${formatBytes(size)} ${phase}`,
        unit: 'MiB',
        better: 'lower',
        aggregate: 'max',
        goals: [{ kind: 'abs-max', value: 100 }],
      };
      const peak: MetricSpec = {
        id: `rss.${phase}.peak`,
        section: 'memory',
        name: `peak RSS during the ${phase}`,
        unit: 'MiB',
        better: 'lower',
        aggregate: 'max',
      };
      const rate: MetricSpec = {
        id: `rss.${phase}.rate`,
        section: 'memory',
        name: `${formatBytes(size)} ${phase} throughput`,
        unit: 'MB/s',
        better: 'higher',
      };
      try {
        if (phase === 'push') settleDisk();
        const sampler = new RssSampler(side.pid!).start();
        const t0 = performance.now();
        if (phase === 'push') await side.client.pushMonolithic(RSS_REPO, content);
        else await side.client.readBlob(`/v2/${RSS_REPO}/blobs/${content.digest()}`, size);
        const s = (performance.now() - t0) / 1000;
        const r = sampler.stop();
        const mib = (b: number) => b / 1024 / 1024;
        b.record(growth, side.key, mib(r.peak - r.before));
        b.record(peak, side.key, mib(r.peak));
        b.record(rate, side.key, size / 1e6 / s);
        b.opts.log(
          `  ${side.label.padEnd(12)} ${phase}: RSS ${mib(r.before).toFixed(0)} MiB before, peak ${mib(r.peak).toFixed(0)} MiB (+${mib(r.peak - r.before).toFixed(0)}), ${(size / 1e6 / s).toFixed(0)} MB/s`,
        );
      } catch (e) {
        b.fail(growth, side.key, e);
      }
    }
  }
}
