// The parts of s3rver 3.7.1 (no published types) that the S3 test server uses.
declare module 's3rver' {
  import type { IncomingMessage, Server } from 'node:http';

  namespace S3rver {
    interface Options {
      address?: string;
      port?: number;
      silent?: boolean;
      directory?: string;
      resetOnClose?: boolean;
      vhostBuckets?: boolean;
      allowMismatchedSignatures?: boolean;
      configureBuckets?: { name: string }[];
    }

    /** Its FilesystemStore: one directory per bucket, files named `<key>._S3rver_<resource>`. */
    interface Store {
      getResourcePath(bucket: string, key: string | undefined, resource: string): string;
      getBucket(bucket: string): Promise<{ name: string } | null>;
      getMetadata(bucket: string, key: string): Promise<Record<string, string | number>>;
      putMetadata(
        bucket: string,
        key: string,
        metadata: Record<string, unknown>,
        md5?: string,
      ): Promise<void>;
    }

    /** The subset of a Koa context the shim touches. */
    interface Context {
      req: IncomingMessage;
      method: string;
      path: string;
      querystring: string;
      query: Record<string, string | string[] | undefined>;
      status: number;
      body: unknown;
      type: string;
      store: Store;
      set(field: string, value: string): void;
    }

    type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void>;
  }

  class S3rver {
    constructor(options?: S3rver.Options);
    readonly store: S3rver.Store;
    readonly middleware: S3rver.Middleware[];
    readonly httpServer?: Server;
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  }

  export = S3rver;
}
