import { metrics } from './metrics';

const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Operations a service answered over NATS or its internal RPC route. `op` is a name from the
 * service's operation table (unknown names are counted as "unknown"), `outcome` is ok, error (a
 * registry error such as MANIFEST_UNKNOWN, passed on to the client) or internal (a bug, logged).
 */
export class RpcMetrics {
  readonly requests = metrics.counter(
    'wharf_rpc_requests_total',
    'Service operations answered (NATS or internal HTTP RPC), by service, operation and outcome.',
    ['service', 'op', 'outcome'],
  );
  readonly duration = metrics.histogram(
    'wharf_rpc_duration_seconds',
    'Time a service spent answering an operation, by service and operation.',
    ['service', 'op'],
    RPC_BUCKETS,
  );

  record(service: string, op: string, outcome: 'ok' | 'error' | 'internal', seconds: number): void {
    this.requests.inc([service, op, outcome]);
    this.duration.observe([service, op], seconds);
  }
}

let shared: RpcMetrics | undefined;
export function rpcMetrics(): RpcMetrics {
  return (shared ??= new RpcMetrics());
}
