import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { metrics } from './metrics';

let registered = false;

/** The usual process_* families plus event loop delay, computed at scrape time. */
export function registerProcessMetrics(): void {
  if (registered) return;
  registered = true;
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  metrics.registerGauge(
    'process_start_time_seconds',
    'Start time of the process since the Unix epoch, in seconds.',
    () => startSeconds,
  );
  metrics.registerCounter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  });
  metrics.registerGauge('process_resident_memory_bytes', 'Resident memory size, in bytes.', () =>
    process.memoryUsage.rss(),
  );
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  metrics.registerGauge(
    'nodejs_eventloop_delay_p99_seconds',
    'Event loop delay, 99th percentile since the last scrape, in seconds.',
    () => {
      const p99 = delay.percentile(99) / 1e9;
      delay.reset();
      return Number.isFinite(p99) ? p99 : 0;
    },
  );
  registerGcMetrics();
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/**
 * Garbage collections by kind: how often, and the main thread's time in them. A rate of major
 * collections that follows the request rate is what a mis-sized heap looks like (see tuneHeap).
 */
function registerGcMetrics(): void {
  const runs = new Map<string, number>();
  const seconds = new Map<string, number>();
  for (const kind of Object.values(GC_KINDS)) {
    runs.set(kind, 0);
    seconds.set(kind, 0);
  }
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // Node puts the collection's kind in `detail` of its 'gc' entries.
      const detail = (entry as { detail?: { kind?: number } }).detail;
      const kind = GC_KINDS[detail?.kind ?? -1];
      if (kind === undefined) continue;
      runs.set(kind, runs.get(kind)! + 1);
      seconds.set(kind, seconds.get(kind)! + entry.duration / 1000);
    }
  }).observe({ entryTypes: ['gc'] });
  const series = (m: Map<string, number>) => [...m].map(([kind, value]) => ({ labels: { kind }, value }));
  metrics.registerCounter('nodejs_gc_runs_total', 'Garbage collections, by kind.', () => series(runs));
  metrics.registerCounter(
    'nodejs_gc_duration_seconds_total',
    'Time the main thread spent in garbage collections, by kind, in seconds.',
    () => series(seconds),
  );
}
