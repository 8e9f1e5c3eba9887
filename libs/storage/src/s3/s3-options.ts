import { Client } from 'minio';

const DEFAULT_REGION = 'us-east-1';

export interface S3Endpoint {
  endPoint: string;
  /** Defaults to 443 with TLS, 80 without. */
  port?: number;
  useSSL?: boolean;
}

export interface S3DriverOptions extends S3Endpoint {
  /** Signing region. Always set, so that no request asks the bucket for its location. */
  region?: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  /** Path-style URLs (`host/bucket/key`, what MinIO expects) unless false. */
  pathStyle?: boolean;
  /** Key prefix for everything the driver stores (`wharf/`); empty by default. */
  prefix?: string;
  /** Base part size, default 5 MiB; parts grow from it (part-layout.ts). At least 5 MiB, as S3 requires. */
  partSize?: number;
  /** Accepts a part size below S3's 5 MiB minimum: for tests against a server that allows it. */
  allowSmallParts?: boolean;
  /** Where clients reach the store, for presigned URLs; defaults to the endpoint above. */
  publicEndpoint?: S3Endpoint;
  /** Told about failures the driver recovers from (leftover temporary objects); never about secrets. */
  onWarning?: (message: string, error: unknown) => void;
}

/** `http(s)://host[:port]` as configured in WHARF_S3_ENDPOINT / WHARF_S3_PUBLIC_ENDPOINT. */
export function parseS3Endpoint(url: string): S3Endpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(`invalid S3 endpoint URL ${JSON.stringify(url)}`);
  }
  if (
    (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
    (parsed.pathname !== '/' && parsed.pathname !== '') ||
    parsed.search ||
    parsed.username ||
    parsed.password
  ) {
    throw new RangeError(`S3 endpoint must be http(s)://host[:port]: ${JSON.stringify(url)}`);
  }
  const useSSL = parsed.protocol === 'https:';
  return {
    endPoint: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : useSSL ? 443 : 80,
    useSSL,
  };
}

/**
 * The client the driver talks to the store with, and the one it presigns URLs with. Presigning is
 * local computation, but the signature covers the host: it must be signed for the name clients use,
 * which inside a cluster is rarely the name the blob service uses.
 */
export function s3Clients(options: S3DriverOptions): { client: Client; publicClient: Client } {
  const common = {
    region: options.region ?? DEFAULT_REGION,
    accessKey: options.accessKey,
    secretKey: options.secretKey,
    pathStyle: options.pathStyle ?? true,
  };
  const client = new Client({
    ...common,
    endPoint: options.endPoint,
    port: options.port,
    useSSL: options.useSSL ?? false,
  });
  const pub = options.publicEndpoint ?? options;
  const publicClient = new Client({
    ...common,
    endPoint: pub.endPoint,
    port: pub.port,
    useSSL: pub.useSSL ?? false,
  });
  return { client, publicClient };
}
