import { ConfigError } from './config';

/**
 * Keys of the distributed shape (gateway, metadata and blob services). All optional here: each
 * service asks for the ones it needs with `requireCluster`, which names a missing key, so the
 * all-in-one never has to set them.
 */
export interface ClusterConfig {
  /** WHARF_NATS_URL: one or more `nats://host:port`, comma-separated. */
  natsServers?: string[];
  natsUser?: string;
  natsPassword?: string;
  natsToken?: string;
  /** WHARF_NATS_PREFIX: first token of every subject; isolates installations sharing a NATS. */
  natsPrefix: string;
  /** WHARF_NATS_TIMEOUT: how long a request waits for its reply. */
  natsTimeoutMs: number;
  /** WHARF_INTERNAL_TOKEN: shared secret every internal HTTP request carries. */
  internalToken?: string;
  /** WHARF_BLOB_URL: the blob services' data ports (one Service URL, or a list spread over). */
  blobUrls?: string[];
  /** WHARF_METADATA_URL: the metadata services' data ports, likewise. */
  metadataUrls?: string[];
  /** WHARF_SHUTDOWN_TIMEOUT: longest a SIGTERM waits for in-flight requests before exiting. */
  shutdownTimeoutMs: number;
  /**
   * WHARF_S3_REDIRECT, read by every service: the gateway asks the blob service for a presigned URL
   * on blob GETs only when it is set, so that with it off a GET costs no extra round trip.
   */
  redirectBlobs: boolean;
  storage: StorageConfig;
}

export type StorageConfig =
  | { driver: 'filesystem' }
  | {
      driver: 's3';
      endpoint: string;
      bucket: string;
      region: string;
      accessKey: string;
      secretKey: string;
      pathStyle: boolean;
      prefix: string;
      /** WHARF_S3_PART_SIZE in bytes; the driver's default (5 MiB) when absent. */
      partSize?: number;
      redirect: boolean;
      publicEndpoint?: string;
    };

type Get = (key: string) => string | undefined;

const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

function urlList(key: string, value: string | undefined, schemes: string[]): string[] | undefined {
  if (value === undefined) return undefined;
  const urls = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  if (!urls.length) throw new ConfigError(key, 'is empty');
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new ConfigError(key, `"${u}" is not a URL`);
    }
    if (!schemes.includes(parsed.protocol.replace(/:$/, '')))
      throw new ConfigError(key, `"${u}" must use ${schemes.join(' or ')}`);
  }
  return urls.map((u) => u.replace(/\/+$/, ''));
}

export function loadClusterConfig(
  get: Get,
  parse: {
    duration: (key: string, value: string) => number;
    bool: (key: string, value: string) => boolean;
    int: (key: string, value: string, min: number) => number;
  },
): ClusterConfig {
  const prefix = get('WHARF_NATS_PREFIX') ?? 'wharf';
  if (!SUBJECT_PREFIX.test(prefix) || prefix.length > 200)
    throw new ConfigError(
      'WHARF_NATS_PREFIX',
      `"${prefix}" is not a NATS subject prefix like wharf or team.wharf`,
    );
  const token = get('WHARF_INTERNAL_TOKEN');
  // A guessable token would make the internal ports a way around the gateway's access checks.
  if (token !== undefined && token.length < 16)
    throw new ConfigError('WHARF_INTERNAL_TOKEN', 'must be at least 16 characters');
  const natsToken = get('WHARF_NATS_TOKEN');
  const natsUser = get('WHARF_NATS_USER');
  const natsPassword = get('WHARF_NATS_PASSWORD');
  if (!natsUser !== !natsPassword)
    throw new ConfigError(
      natsUser ? 'WHARF_NATS_PASSWORD' : 'WHARF_NATS_USER',
      'WHARF_NATS_USER and WHARF_NATS_PASSWORD go together',
    );
  if (natsToken && natsUser)
    throw new ConfigError('WHARF_NATS_TOKEN', 'use either WHARF_NATS_TOKEN or WHARF_NATS_USER/PASSWORD');
  return {
    natsServers: urlList('WHARF_NATS_URL', get('WHARF_NATS_URL'), ['nats', 'tls', 'ws', 'wss']),
    natsUser,
    natsPassword,
    natsToken,
    natsPrefix: prefix,
    natsTimeoutMs: parse.duration('WHARF_NATS_TIMEOUT', get('WHARF_NATS_TIMEOUT') ?? '30s'),
    internalToken: token,
    blobUrls: urlList('WHARF_BLOB_URL', get('WHARF_BLOB_URL'), ['http', 'https']),
    metadataUrls: urlList('WHARF_METADATA_URL', get('WHARF_METADATA_URL'), ['http', 'https']),
    shutdownTimeoutMs: parse.duration('WHARF_SHUTDOWN_TIMEOUT', get('WHARF_SHUTDOWN_TIMEOUT') ?? '30s'),
    redirectBlobs: parse.bool('WHARF_S3_REDIRECT', get('WHARF_S3_REDIRECT') ?? 'false'),
    storage: loadStorageConfig(get, parse),
  };
}

function loadStorageConfig(get: Get, parse: Parameters<typeof loadClusterConfig>[1]): StorageConfig {
  const endpoint = get('WHARF_S3_ENDPOINT');
  // Setting the S3 endpoint is the one change that moves blobs from the filesystem to S3.
  const driver = get('WHARF_STORAGE_DRIVER') ?? (endpoint ? 's3' : 'filesystem');
  if (driver === 'filesystem') return { driver };
  if (driver !== 's3') throw new ConfigError('WHARF_STORAGE_DRIVER', `"${driver}" is not filesystem or s3`);
  const need = (key: string): string => {
    const v = get(key);
    if (v === undefined) throw new ConfigError(key, 'is required for the s3 storage driver');
    return v;
  };
  const s3Url = (key: string, v: string): string => {
    if (!/^https?:\/\/[^/?#]+\/?$/.test(v)) throw new ConfigError(key, `"${v}" is not http(s)://host[:port]`);
    return v.replace(/\/$/, '');
  };
  const partSize = get('WHARF_S3_PART_SIZE');
  const publicEndpoint = get('WHARF_S3_PUBLIC_ENDPOINT');
  return {
    driver,
    endpoint: s3Url('WHARF_S3_ENDPOINT', need('WHARF_S3_ENDPOINT')),
    bucket: need('WHARF_S3_BUCKET'),
    region: get('WHARF_S3_REGION') ?? 'us-east-1',
    accessKey: need('WHARF_S3_ACCESS_KEY'),
    secretKey: need('WHARF_S3_SECRET_KEY'),
    pathStyle: parse.bool('WHARF_S3_PATH_STYLE', get('WHARF_S3_PATH_STYLE') ?? 'true'),
    prefix: get('WHARF_S3_PREFIX') ?? '',
    partSize: partSize === undefined ? undefined : parse.int('WHARF_S3_PART_SIZE', partSize, 1),
    redirect: parse.bool('WHARF_S3_REDIRECT', get('WHARF_S3_REDIRECT') ?? 'false'),
    publicEndpoint:
      publicEndpoint === undefined ? undefined : s3Url('WHARF_S3_PUBLIC_ENDPOINT', publicEndpoint),
  };
}

export type ClusterRole = 'gateway' | 'metadata' | 'blob';

/** The keys each service of the distributed shape cannot start without. */
const REQUIRED: Record<ClusterRole, (keyof ClusterConfig)[]> = {
  gateway: ['natsServers', 'internalToken', 'blobUrls', 'metadataUrls'],
  metadata: ['natsServers', 'internalToken', 'blobUrls'],
  blob: ['natsServers', 'internalToken'],
};

const KEY_OF: Partial<Record<keyof ClusterConfig, string>> = {
  natsServers: 'WHARF_NATS_URL',
  internalToken: 'WHARF_INTERNAL_TOKEN',
  blobUrls: 'WHARF_BLOB_URL',
  metadataUrls: 'WHARF_METADATA_URL',
};

export type RequiredCluster = ClusterConfig & {
  natsServers: string[];
  internalToken: string;
  blobUrls: string[];
  metadataUrls: string[];
};

/** Stops a service of the distributed shape with the name of the first key it lacks. */
export function requireCluster(cluster: ClusterConfig, role: ClusterRole): RequiredCluster {
  for (const field of REQUIRED[role]) {
    if (cluster[field] === undefined)
      throw new ConfigError(KEY_OF[field]!, `is required by the ${role} service`);
  }
  return cluster as RequiredCluster;
}
