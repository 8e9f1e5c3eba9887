import type { Readable } from 'node:stream';
import { BalancedPool, Pool, type Dispatcher } from 'undici';
import { Content, sha256 } from './content';

export const MT_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MT_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MT_DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const MT_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** The smallest manifest a repository can hold: an OCI index of nothing, which references no blob. */
export const EMPTY_INDEX = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: MT_OCI_INDEX, manifests: [] }),
);

/**
 * An index of nothing that differs per `label`: distinct manifests, as distinct images would be.
 * Seeding many tags with one manifest would instead measure contention on that manifest's record.
 */
export function labelledIndex(label: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT_OCI_INDEX,
      manifests: [],
      annotations: { 'org.example.bench.label': label },
    }),
  );
}

/** What containerd sends when it resolves a tag: every manifest type it can use. */
export const PULL_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  '*/*',
].join(', ');

export type Body = Buffer | string | Readable | null;

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export class HttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    body: string,
  ) {
    super(`${method} ${path} answered ${status}: ${body.slice(0, 300)}`);
  }
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface Image {
  config: Descriptor & { bytes: Buffer };
  layers: Descriptor[];
  manifest: Buffer;
  digest: string;
}

/** A Docker schema2 manifest for a config and layers (what `docker push` sends). */
export function makeImage(configSeed: string, layers: Descriptor[]): Image {
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: [`BENCH=${configSeed}`] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    }),
  );
  const config = { mediaType: MT_DOCKER_CONFIG, digest: sha256(configBytes), size: configBytes.length };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT_DOCKER_MANIFEST,
      config,
      layers,
    }),
  );
  return { config: { ...config, bytes: configBytes }, layers, manifest, digest: sha256(manifest) };
}

export function layerOf(c: Content): Descriptor {
  return { mediaType: MT_DOCKER_LAYER, digest: c.digest(), size: c.size };
}

/**
 * The registry API V2 calls the benchmark makes, over one undici Pool per registry. Nothing here is
 * specific to a registry implementation. `url` may list several comma-separated URLs of one
 * registry (its gateways): requests are then spread over them, `connections` to each.
 */
export class RegistryClient {
  readonly pool: Dispatcher;
  /** Where Location headers resolve; any gateway serves any request of a conversation. */
  readonly origin: string;
  readonly origins: string[];

  constructor(
    readonly url: string,
    connections = 64,
  ) {
    this.origins = splitUrls(url).map((u) => new URL(u).origin);
    this.origin = this.origins[0];
    this.pool = newPool(this.origins, connections * this.origins.length);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  async call(
    method: Dispatcher.HttpMethod,
    path: string,
    opts: { headers?: Record<string, string>; body?: Body; expect?: number[] } = {},
  ): Promise<Reply> {
    const res = await this.pool.request({
      method,
      path,
      headers: opts.headers,
      body: opts.body ?? undefined,
      // undici would close the connection after a HEAD; registry clients keep it alive.
      reset: false,
    });
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const expect = opts.expect ?? [200];
    if (!expect.includes(res.statusCode)) throw new HttpError(method, path, res.statusCode, body.toString());
    return { status: res.statusCode, headers: res.headers, body };
  }

  /** Path and query of a Location header, absolute or relative, plus extra query parameters. */
  location(reply: Reply, extra: Record<string, string> = {}): string {
    const loc = reply.headers['location'];
    if (typeof loc !== 'string') throw new Error(`no Location in a ${reply.status} answer`);
    const u = new URL(loc, this.origin);
    for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
    return u.pathname + u.search;
  }

  async startUpload(repo: string): Promise<string> {
    const r = await this.call('POST', `/v2/${repo}/blobs/uploads/`, {
      headers: { 'content-length': '0' },
      expect: [202],
    });
    return this.location(r);
  }

  /** POST then one PUT carrying the whole blob: the monolithic upload every registry supports. */
  async pushMonolithic(repo: string, content: Content): Promise<void> {
    const loc = await this.startUpload(repo);
    await this.call('PUT', withQuery(loc, { digest: content.digest() }), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(content.size) },
      body: content.body(),
      expect: [201],
    });
  }

  /** POST, PATCH per chunk (with Content-Range), then a PUT with the digest and no body. */
  async pushChunked(repo: string, content: Content, chunkSize: number): Promise<void> {
    let loc = await this.startUpload(repo);
    for (let from = 0; from < content.size; from += chunkSize) {
      const to = Math.min(content.size, from + chunkSize);
      const r = await this.call('PATCH', loc, {
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(to - from),
          'content-range': `${from}-${to - 1}`,
        },
        body: content.body(from, to),
        expect: [202],
      });
      loc = this.location(r);
    }
    await this.call('PUT', withQuery(loc, { digest: content.digest() }), {
      headers: { 'content-length': '0' },
      expect: [201],
    });
  }

  async pushBytes(repo: string, bytes: Buffer, digest = sha256(bytes)): Promise<void> {
    const loc = await this.startUpload(repo);
    await this.call('PUT', withQuery(loc, { digest }), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      body: bytes,
      expect: [201],
    });
  }

  async blobExists(repo: string, digest: string): Promise<boolean> {
    const r = await this.call('HEAD', `/v2/${repo}/blobs/${digest}`, { expect: [200, 404] });
    return r.status === 200;
  }

  /** Cross-repository mount; false when the registry answered with an upload session instead. */
  async mount(repo: string, digest: string, from: string): Promise<boolean> {
    const r = await this.call(
      'POST',
      `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      { headers: { 'content-length': '0' }, expect: [201, 202] },
    );
    if (r.status === 202) {
      // Not mountable: cancel the session we were given rather than leave it behind.
      await this.call('DELETE', this.location(r), { expect: [204, 404] }).catch(() => undefined);
    }
    return r.status === 201;
  }

  async putManifest(repo: string, reference: string, image: Image): Promise<void> {
    await this.putManifestBytes(repo, reference, MT_DOCKER_MANIFEST, image.manifest);
  }

  async putManifestBytes(repo: string, reference: string, mediaType: string, body: Buffer): Promise<void> {
    await this.call('PUT', `/v2/${repo}/manifests/${reference}`, {
      headers: { 'content-type': mediaType },
      body,
      expect: [201],
    });
  }

  async manifestExists(repo: string, reference: string): Promise<boolean> {
    const r = await this.call('HEAD', `/v2/${repo}/manifests/${reference}`, {
      headers: { accept: PULL_ACCEPT },
      expect: [200, 404],
    });
    return r.status === 200;
  }

  /** Pushes an image the way docker does: HEAD each blob, upload the missing ones, PUT the manifest. */
  async pushImage(repo: string, tag: string, image: Image, layers: Map<string, Content>): Promise<void> {
    const blobs: [string, () => Promise<void>][] = [
      [image.config.digest, () => this.pushBytes(repo, image.config.bytes, image.config.digest)],
      ...image.layers.map((l): [string, () => Promise<void>] => [
        l.digest,
        () => this.pushMonolithic(repo, layers.get(l.digest)!),
      ]),
    ];
    await Promise.all(
      blobs.map(async ([digest, push]) => {
        if (!(await this.blobExists(repo, digest))) await push();
      }),
    );
    await this.putManifest(repo, tag, image);
  }

  /** GETs a blob (or a range of it) and counts the bytes; throws when fewer arrive than expected. */
  async readBlob(path: string, expected: number, range?: [number, number]): Promise<number> {
    const r = await exchange(this.pool, {
      method: 'GET',
      path,
      headers: range ? { range: `bytes=${range[0]}-${range[1]}` } : undefined,
    });
    if (r.status !== (range ? 206 : 200)) throw new HttpError('GET', path, r.status, '');
    if (r.bytes !== expected) throw new Error(`GET ${path}: ${r.bytes} bytes, expected ${expected}`);
    return r.bytes;
  }
}

export interface Counted {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: number;
}

/**
 * One request whose answer body is counted, not kept: undici's lowest-level API, so the client spends
 * as little CPU as it can on the machine it shares with the registry under test.
 */
export function exchange(pool: Dispatcher, opts: Dispatcher.DispatchOptions): Promise<Counted> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    let bytes = 0;
    pool.dispatch(opts, {
      onRequestStart() {},
      onResponseStart(_c, statusCode, h) {
        status = statusCode;
        headers = h;
      },
      onResponseData(_c, chunk) {
        bytes += chunk.length;
      },
      onResponseEnd() {
        resolve({ status, headers, bytes });
      },
      onResponseError(_c, err) {
        reject(err);
      },
    });
  });
}

/** `a,b,c` → the URLs, blanks dropped; throws on none. */
export function splitUrls(list: string): string[] {
  const urls = list
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (!urls.length) throw new Error(`no URL in "${list}"`);
  return urls;
}

/** How many of `connections` the i-th of `n` upstreams gets: all of them, as evenly as they divide. */
export function share(connections: number, n: number, i: number): number {
  return Math.floor(connections / n) + (i < connections % n ? 1 : 0);
}

/**
 * `connections` in all, to one origin or spread over several (BalancedPool: round robin that skips
 * an upstream whose connections are all busy, so a closed loop keeps them evenly loaded).
 */
export function newPool(origins: string | string[], connections: number): Dispatcher {
  const list = typeof origins === 'string' ? [origins] : origins;
  const opts = {
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  };
  if (list.length === 1) return new Pool(list[0], { ...opts, connections });
  // BalancedPool hands one options object to every upstream's Pool: the larger share for all.
  return new BalancedPool(list, { ...opts, connections: Math.max(1, share(connections, list.length, 0)) });
}

export function withQuery(pathAndQuery: string, extra: Record<string, string>): string {
  const u = new URL(pathAndQuery, 'http://x');
  for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
  return u.pathname + u.search;
}
