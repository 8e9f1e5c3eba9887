import { monitorEventLoopDelay } from 'node:perf_hooks';
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
}
