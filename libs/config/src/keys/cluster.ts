import { DEFAULT_SUBJECT_PREFIX } from '@wharf/contracts';
import { ConfigError } from '../errors';
import * as p from '../parsers';
import type { KeyTable } from './spec';

const storageDriver: p.Parser<'filesystem' | 's3'> = (key, value) => {
  if (value !== 'filesystem' && value !== 's3')
    throw new ConfigError(key, `"${value}" is not filesystem or s3`);
  return value;
};

/**
 * The README's table of the distributed shape (gateway, metadata and blob services). Each service
 * insists only on the keys it needs (`requireCluster`), so the all-in-one never has to set them.
 */
export const CLUSTER_KEYS = {
  WHARF_NATS_URL: {
    parse: p.urlList(['nats', 'tls', 'ws', 'wss']),
    defaultDoc: 'required',
    doc: '`nats://host:4222`, or a comma-separated list of servers',
    services: 'all',
  },
  WHARF_NATS_USER: {
    parse: p.text,
    doc: 'NATS user, with `WHARF_NATS_PASSWORD` (or else `WHARF_NATS_TOKEN`)',
    services: 'all',
  },
  WHARF_NATS_PASSWORD: {
    parse: p.text,
    secret: true,
    doc: "`WHARF_NATS_USER`'s password",
    services: 'all',
  },
  WHARF_NATS_TOKEN: {
    parse: p.text,
    secret: true,
    doc: 'NATS token, instead of a user and password',
    services: 'all',
  },
  WHARF_NATS_PREFIX: {
    parse: p.subjectPrefix,
    default: DEFAULT_SUBJECT_PREFIX,
    doc: 'first token of every subject: installations (or test runs) sharing a NATS never mix',
    services: 'all',
  },
  WHARF_NATS_TIMEOUT: {
    parse: p.parseDurationMs,
    default: '30s',
    doc: 'how long a request waits for its reply (then 503)',
    services: 'gateway, metadata',
  },
  WHARF_GATEWAY_CACHE_SIZE: {
    parse: p.int(0),
    default: String(64 << 20),
    defaultDoc: '64 MiB',
    doc: 'bytes of manifests each gateway keeps in its coherent cache of pulls (`0`: none)',
    services: 'gateway',
  },
  WHARF_INTERNAL_TOKEN: {
    // A guessable token would make the internal ports a way around the gateway's access checks.
    parse: p.atLeastChars(16),
    secret: true,
    defaultDoc: 'required',
    doc: 'shared secret (16+ characters) on every internal HTTP request',
    services: 'all',
  },
  WHARF_BLOB_URL: {
    parse: p.urlList(['http', 'https']),
    defaultDoc: 'required',
    doc: 'blob data port(s): a Service URL, or a comma-separated list spread over, retried on failure',
    services: 'gateway, metadata',
  },
  WHARF_METADATA_URL: {
    parse: p.urlList(['http', 'https']),
    defaultDoc: 'required',
    doc: 'metadata data port(s), likewise',
    services: 'gateway',
  },
  WHARF_SHUTDOWN_TIMEOUT: {
    parse: p.parseDurationMs,
    default: '30s',
    doc: 'longest a SIGTERM waits for requests in flight',
    services: 'all',
  },
  WHARF_STORAGE_DRIVER: {
    parse: storageDriver,
    defaultDoc: 'see meaning',
    doc: '`s3` when `WHARF_S3_ENDPOINT` is set, else `filesystem` (`WHARF_STORAGE_ROOT`, shared by all blob replicas)',
    services: 'blob',
  },
  WHARF_S3_ENDPOINT: {
    parse: p.s3Endpoint,
    doc: '`http(s)://host:port` of MinIO / S3: setting it switches blob storage to S3',
    services: 'blob',
  },
  WHARF_S3_BUCKET: { parse: p.text, defaultDoc: 'required with S3', doc: 'bucket', services: 'blob' },
  WHARF_S3_ACCESS_KEY: {
    parse: p.text,
    secret: true,
    defaultDoc: 'required with S3',
    doc: 'access key',
    services: 'blob',
  },
  WHARF_S3_SECRET_KEY: {
    parse: p.text,
    secret: true,
    defaultDoc: 'required with S3',
    doc: 'secret key',
    services: 'blob',
  },
  WHARF_S3_REGION: { parse: p.text, default: 'us-east-1', doc: 'signing region', services: 'blob' },
  WHARF_S3_PATH_STYLE: { parse: p.bool, default: 'true', doc: 'path-style URLs (MinIO)', services: 'blob' },
  WHARF_S3_PREFIX: { parse: p.text, default: '', doc: 'key prefix', services: 'blob' },
  WHARF_S3_PART_SIZE: {
    parse: p.int(1),
    defaultDoc: '5 MiB',
    doc: 'base multipart part size in bytes',
    services: 'blob',
  },
  WHARF_S3_REDIRECT: {
    // Read by every service: the gateway asks the blob service for a presigned URL on blob GETs
    // only when it is set, so that with it off a GET costs no extra round trip.
    parse: p.bool,
    default: 'false',
    doc: '`true` on both: blob GETs answer 307 to a presigned S3 URL (see below); HEAD stays local',
    services: 'gateway, blob',
  },
  WHARF_S3_PUBLIC_ENDPOINT: {
    parse: p.s3Endpoint,
    defaultDoc: '`WHARF_S3_ENDPOINT`',
    doc: '`http(s)://host:port` clients reach the store at; presigned URLs are signed for exactly this host',
    services: 'blob',
  },
} satisfies KeyTable;
