import { ConfigError } from './errors';
import type { Settings } from './settings';

/**
 * Keys of the distributed shape (gateway, metadata and blob services); keys/cluster.ts says what
 * each means. All optional here: each service asks for the ones it needs with `requireCluster`,
 * which names a missing key, so the all-in-one never has to set them.
 */
export interface ClusterConfig {
  natsServers?: string[];
  natsUser?: string;
  natsPassword?: string;
  natsToken?: string;
  natsPrefix: string;
  natsTimeoutMs: number;
  /** WHARF_GATEWAY_CACHE_SIZE: a gateway's coherent metadata cache, in bytes; 0 turns it off. */
  gatewayCacheBytes: number;
  internalToken?: string;
  blobUrls?: string[];
  metadataUrls?: string[];
  shutdownTimeoutMs: number;
  /** WHARF_S3_REDIRECT as the gateway reads it: it has no storage settings of its own. */
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

export function loadClusterConfig(s: Settings): ClusterConfig {
  const natsPrefix = s.get('WHARF_NATS_PREFIX');
  const internalToken = s.get('WHARF_INTERNAL_TOKEN');
  s.together('WHARF_NATS_USER', 'WHARF_NATS_PASSWORD');
  if (s.has('WHARF_NATS_TOKEN') && s.has('WHARF_NATS_USER'))
    throw new ConfigError('WHARF_NATS_TOKEN', 'use either WHARF_NATS_TOKEN or WHARF_NATS_USER/PASSWORD');
  return {
    natsServers: s.get('WHARF_NATS_URL'),
    natsUser: s.get('WHARF_NATS_USER'),
    natsPassword: s.get('WHARF_NATS_PASSWORD'),
    natsToken: s.get('WHARF_NATS_TOKEN'),
    natsPrefix,
    natsTimeoutMs: s.get('WHARF_NATS_TIMEOUT'),
    gatewayCacheBytes: s.get('WHARF_GATEWAY_CACHE_SIZE'),
    internalToken,
    blobUrls: s.get('WHARF_BLOB_URL'),
    metadataUrls: s.get('WHARF_METADATA_URL'),
    shutdownTimeoutMs: s.get('WHARF_SHUTDOWN_TIMEOUT'),
    redirectBlobs: s.get('WHARF_S3_REDIRECT'),
    storage: loadStorageConfig(s),
  };
}

function loadStorageConfig(s: Settings): StorageConfig {
  // Setting the S3 endpoint is the one change that moves blobs from the filesystem to S3.
  const driver = s.get('WHARF_STORAGE_DRIVER') ?? (s.has('WHARF_S3_ENDPOINT') ? 's3' : 'filesystem');
  if (driver === 'filesystem') return { driver };
  const why = 'for the s3 storage driver';
  return {
    driver,
    endpoint: s.need('WHARF_S3_ENDPOINT', why),
    bucket: s.need('WHARF_S3_BUCKET', why),
    region: s.get('WHARF_S3_REGION'),
    accessKey: s.need('WHARF_S3_ACCESS_KEY', why),
    secretKey: s.need('WHARF_S3_SECRET_KEY', why),
    pathStyle: s.get('WHARF_S3_PATH_STYLE'),
    prefix: s.get('WHARF_S3_PREFIX'),
    partSize: s.get('WHARF_S3_PART_SIZE'),
    redirect: s.get('WHARF_S3_REDIRECT'),
    publicEndpoint: s.get('WHARF_S3_PUBLIC_ENDPOINT'),
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
