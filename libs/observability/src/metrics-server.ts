import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { PROMETHEUS_CONTENT_TYPE, metrics, type MetricsRegistry } from './metrics';

/** `GET /metrics`: the process's registry in Prometheus text format. */
export function serveMetrics(
  req: IncomingMessage,
  res: ServerResponse,
  registry: MetricsRegistry = metrics,
): void {
  req.resume();
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  registry.render().then(
    (text) => {
      res.writeHead(200, {
        'content-type': PROMETHEUS_CONTENT_TYPE,
        'content-length': Buffer.byteLength(text),
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    },
    (e: unknown) => {
      new Logger('metrics').error(`rendering /metrics failed: ${(e as Error)?.message ?? String(e)}`);
      res.writeHead(500).end();
    },
  );
}

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/**
 * The separate metrics listener (WHARF_METRICS_ADDR), like Distribution's debug address: only
 * `/metrics`, so the port can stay inside the cluster while the HTTP port faces clients.
 */
export async function startMetricsListener(addr: { host: string; port: number }): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] === '/metrics') return serveMetrics(req, res);
    req.resume();
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host || undefined, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${a.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
