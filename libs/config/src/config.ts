import { join } from 'node:path';
import { loadAuthConfig, type AuthConfig } from './auth';
import { loadClusterConfig, type ClusterConfig } from './cluster';
import { loadEventsConfig, type EventsConfig } from './events';
import { loadGcConfig, type GcConfig } from './gc';
import type { LogLevel } from './keys';
import { Settings, type Source } from './settings';

/**
 * One typed configuration object for every shape. Read from WHARF_* environment variables, with
 * an optional YAML file (WHARF_CONFIG) underneath them; keys/ declares each key once. A bad value
 * stops the process with a message that names the key.
 */
export interface WharfConfig {
  http: { host: string; port: number };
  /** WHARF_METRICS_ADDR: /metrics on a listener of its own; unset, the HTTP port serves /metrics. */
  metricsAddr?: { host: string; port: number };
  dataDir: string;
  logLevel: LogLevel;
  /** External Postgres; when absent the all-in-one runs its own embedded server. */
  databaseUrl?: string;
  databasePoolSize: number;
  databaseTimeoutMs: number;
  uploadTtlMs: number;
  /** Where the filesystem driver keeps blobs. */
  storageRoot: string;
  auth: AuthConfig;
  /** The gateway serves HTTPS with these PEM files (re-read when they change). */
  tls?: { certFile: string; keyFile: string };
  /** Old clients (PROTOCOL.md §3.4): the schema2 → signed schema1 rewrite and schema1 push. */
  schema1: Schema1Config;
  /** The distributed shape's services (NATS, internal ports, S3); see cluster.ts. */
  cluster: ClusterConfig;
  /** Registry events: webhooks and pull reporting (events.ts). */
  events: EventsConfig;
  /** Online garbage collection (gc.ts). */
  gc: GcConfig;
  /** Repository rules (WHARF_RULES, read by the metadata service) and the retention pass. */
  rules: { file?: string; retentionIntervalMs: number };
  /** WHARF_PROXY_CONFIG: the pull-through cache's upstreams (read by @wharf/proxy). */
  proxyConfigFile?: string;
}

export interface Schema1Config {
  /** PEM or JWK private key file; without it the all-in-one generates one in `<dataDir>/keys`. */
  signingKeyFile?: string;
  push: boolean;
  /** The manifest-list entry clients that do not accept lists get. */
  defaultPlatform: { os: string; architecture: string };
}

export function loadConfig(env: Source = process.env): WharfConfig {
  const s = new Settings(env);
  const logLevel = s.get('WHARF_LOG_LEVEL');
  const dataDir = s.get('WHARF_DATA_DIR');
  s.together('WHARF_TLS_CERT', 'WHARF_TLS_KEY');
  const certFile = s.get('WHARF_TLS_CERT');
  const keyFile = s.get('WHARF_TLS_KEY');
  return {
    http: s.get('WHARF_HTTP_ADDR'),
    metricsAddr: s.get('WHARF_METRICS_ADDR'),
    dataDir,
    logLevel,
    databaseUrl: s.get('WHARF_DATABASE_URL'),
    databasePoolSize: s.get('WHARF_DATABASE_POOL_SIZE'),
    databaseTimeoutMs: s.get('WHARF_DATABASE_TIMEOUT'),
    uploadTtlMs: s.get('WHARF_UPLOAD_TTL'),
    storageRoot: s.get('WHARF_STORAGE_ROOT') ?? join(dataDir, 'blobs'),
    auth: loadAuthConfig(s, dataDir),
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    schema1: {
      signingKeyFile: s.get('WHARF_SCHEMA1_SIGNING_KEY'),
      push: s.get('WHARF_SCHEMA1_PUSH'),
      defaultPlatform: s.get('WHARF_SCHEMA1_DEFAULT_PLATFORM'),
    },
    cluster: loadClusterConfig(s),
    events: loadEventsConfig(s),
    gc: loadGcConfig(s),
    rules: { file: s.get('WHARF_RULES'), retentionIntervalMs: s.get('WHARF_RETENTION_INTERVAL') },
    proxyConfigFile: s.get('WHARF_PROXY_CONFIG'),
  };
}
