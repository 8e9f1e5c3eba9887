import type { Server } from 'node:http';
import { instrumentHttpServer, type AccessLog } from './instrument-http';
import { startMetricsListener } from './metrics-server';
import { registerProcessMetrics } from './process-metrics';
import { startTracing, stopTracing } from './tracing';

export interface ObserveOptions {
  /** service.name of its spans: wharf, wharf-gateway, wharf-metadata, wharf-blob. */
  service: string;
  /** See InstrumentOptions.edge. */
  edge: boolean;
  /** See InstrumentOptions.context. */
  context: boolean;
  /** WHARF_METRICS_ADDR: a listener of its own for /metrics; unset, the HTTP port serves it. */
  metricsAddr?: { host: string; port: number };
  log?: AccessLog;
}

export interface Observability {
  /** The separate listener's URL, when WHARF_METRICS_ADDR is set. */
  metricsUrl?: string;
  /** After the HTTP server has closed: stops the metrics listener and flushes spans. */
  close(): Promise<void>;
}

/** Metrics, traces and request ids for one process's HTTP server. Call before it listens. */
export async function observe(server: Server, opts: ObserveOptions): Promise<Observability> {
  startTracing(opts.service);
  registerProcessMetrics();
  instrumentHttpServer(server, {
    edge: opts.edge,
    context: opts.context,
    serveMetrics: !opts.metricsAddr,
    log: opts.log,
  });
  const listener = opts.metricsAddr ? await startMetricsListener(opts.metricsAddr) : undefined;
  return {
    metricsUrl: listener?.url,
    close: async () => {
      await listener?.close();
      await stopTracing();
    },
  };
}
