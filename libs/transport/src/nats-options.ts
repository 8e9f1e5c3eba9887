import type { ConnectionOptions } from 'nats';
import type { ClusterConfig } from '@wharf/config';

/** Connection options for every NATS client of a service: credentials, endless reconnects, a name. */
export function natsConnectionOptions(
  cluster: Pick<ClusterConfig, 'natsServers' | 'natsUser' | 'natsPassword' | 'natsToken'>,
  name: string,
): ConnectionOptions {
  return {
    servers: cluster.natsServers ?? ['nats://127.0.0.1:4222'],
    name,
    ...(cluster.natsUser ? { user: cluster.natsUser, pass: cluster.natsPassword } : {}),
    ...(cluster.natsToken ? { token: cluster.natsToken } : {}),
    // A NATS restart must not take the service down with it: keep reconnecting.
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    // A connection that died without a reset (a partition) is noticed in ~15 s, not NATS's default
    // 4 minutes: until then requests over it only time out, and a gateway's cache has no lease.
    pingInterval: 5000,
    maxPingOut: 2,
  };
}
