import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { s3rverShim, type S3Operation } from './s3rver-shim';

export type { S3Operation } from './s3rver-shim';

export interface S3TestServerOptions {
  bucket?: string;
  region?: string;
  /** Random per server unless given, so that only clients handed these can sign. */
  accessKey?: string;
  secretKey?: string;
  /** A free port unless given. */
  port?: number;
  /** Smallest part (but the last) a multipart upload may complete with; S3's 5 MiB unless told. */
  minPartSize?: number;
}

export interface S3TestServer {
  /** `http://127.0.0.1:<port>`, for WHARF_S3_ENDPOINT. */
  endpoint: string;
  host: string;
  port: number;
  region: string;
  accessKey: string;
  secretKey: string;
  /** Created empty at start. */
  bucket: string;
  /** The requests received since the last call (or start), oldest first, then forgets them. */
  takeOperations(): S3Operation[];
  stop(): Promise<void>;
}

const MiB = 1024 * 1024;

/**
 * Starts an S3-compatible server for tests: s3rver 3.7.1 on a free loopback port over a temporary
 * directory, behind the shim in ./s3rver-shim.ts (signature checks and the operations s3rver lacks).
 * Credentials are random per server unless given, so a request signed with anything else fails.
 * Test support only: MinIO is what docker-compose and k8s run.
 */
export async function startS3TestServer(options: S3TestServerOptions = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? 'wharf-test';
  const region = options.region ?? 'us-east-1';
  const accessKey = options.accessKey ?? `TEST${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretKey = options.secretKey ?? randomBytes(24).toString('base64url');
  const directory = await mkdtemp(path.join(tmpdir(), 'wharf-s3-'));
  let operations: S3Operation[] = [];

  // Loaded on use: the driver suite shares this entry point and needs none of s3rver's modules.
  const { default: S3rver } = await import('s3rver');
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory,
    // Buckets are always in the path: a host name is never taken for a bucket name.
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  server.middleware.unshift(
    s3rverShim({
      credentials: { accessKey, secretKey, region },
      minPartSize: options.minPartSize ?? 5 * MiB,
      record: (operation) => operations.push(operation),
    }),
  );
  let port: number;
  try {
    ({ port } = await server.run());
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  // Node closes a kept-alive socket after 5 s idle by default; a client that picks it from its pool in
  // that instant gets ECONNRESET (seen on a loaded machine). Real S3 keeps them far longer.
  if (server.httpServer) {
    server.httpServer.keepAliveTimeout = 65_000;
    server.httpServer.headersTimeout = 66_000;
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    region,
    accessKey,
    secretKey,
    bucket,
    takeOperations() {
      const taken = operations;
      operations = [];
      return taken;
    },
    async stop() {
      // Keep-alive sockets of clients would hold close() open until they time out.
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
