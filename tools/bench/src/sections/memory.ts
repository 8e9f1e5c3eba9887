import { performance } from 'node:perf_hooks';
import type { Bench } from '../bench';
import { Content, formatBytes } from '../content';
import { settleDisk } from '../disk';
import type { MetricSpec, SideKey } from '../model';
import { mostGrown, RssGroup } from '../rss';

// RSS of the registry's processes while one big blob streams in and out: of each one, since the
// limit holds for every process (the distributed shape's gateway, metadata and blob alike).

const RSS_REPO = 'bench/rss';

export async function memorySection(b: Bench): Promise<void> {
  const size = b.opts.rssSize;
  const sides = b.registries.filter((s) => s.processes.length);
  if (!sides.length) {
    b.opts.log('rss: skipped (no --target-pid / --baseline-pid)');
    return;
  }
  const content = new Content(`rss-${size}-${b.opts.runId}`, size);
  b.opts.log(`rss: hashing ${formatBytes(size)}`);
  content.digest();
  for (const side of sides) {
    const several = side.processes.length > 1;
    for (const phase of ['push', 'pull'] as const) {
      const what = `RSS growth during a ${formatBytes(size)} ${phase}`;
      const growth: MetricSpec = {
        id: `rss.${phase}.growth`,
        section: 'memory',
        name: several ? `${what}, most-grown process` : what,
        unit: 'MiB',
        better: 'lower',
        aggregate: 'max',
        goals: [{ kind: 'abs-max', value: 100 }],
      };
      const peak: MetricSpec = {
        id: `rss.${phase}.peak`,
        section: 'memory',
        name: `peak RSS during the ${phase}${several ? ', sum of processes' : ''}`,
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
        const sampler = new RssGroup(side.processes).start();
        const t0 = performance.now();
        if (phase === 'push') await side.client.pushMonolithic(RSS_REPO, content);
        else await side.client.readBlob(`/v2/${RSS_REPO}/blobs/${content.digest()}`, size);
        const s = (performance.now() - t0) / 1000;
        const readings = sampler.stop();
        const mib = (b: number) => b / 1024 / 1024;
        const top = mostGrown(readings)!;
        b.record(growth, side.key, mib(top.peak - top.before));
        b.record(peak, side.key, mib(readings.reduce((sum, r) => sum + r.peak, 0)));
        b.record(rate, side.key, size / 1e6 / s);
        b.opts.log(`  ${side.label.padEnd(12)} ${phase}: ${(size / 1e6 / s).toFixed(0)} MB/s`);
        for (const r of readings) {
          if (several)
            b.record(processGrowth(growth, what, r.name, side.key), side.key, mib(r.peak - r.before));
          b.opts.log(
            `    ${r.name.padEnd(12)} RSS ${mib(r.before).toFixed(0)} MiB before, peak ${mib(r.peak).toFixed(0)} MiB (+${mib(r.peak - r.before).toFixed(0)})`,
          );
        }
      } catch (e) {
        b.fail(growth, side.key, e);
      }
    }
  }
}

/** One process's own row, beside the side's most-grown figure (goal only where the table checks goals). */
function processGrowth(all: MetricSpec, what: string, name: string, side: SideKey): MetricSpec {
  return {
    ...all,
    id: `${all.id}.${name}`,
    name: `${what}: ${name}`,
    goals: side === 'target' ? all.goals : undefined,
  };
}
