/**
 * A small HTTP client for the API e2e tests, on node:http so that nothing is normalised behind the
 * test's back: paths are sent exactly as written (`/v2/../x/...` stays that way), headers are sent
 * as given (a malformed Content-Range, a Content-Length that lies) and bodies can be buffers or
 * streams. `raw()` goes one level lower, over a TCP socket, for requests node:http refuses to make.
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export const EMPTY_BLOB_DIGEST = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Random content of `size` bytes: a blob nobody else has. */
export function randomBlob(size: number): Buffer {
  return randomBytes(size);
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  [extra: string]: unknown;
}

export function descriptorOf(
  mediaType: string,
  content: Buffer,
  extra: Record<string, unknown> = {},
): Descriptor {
  return { mediaType, digest: sha256(content), size: content.length, ...extra };
}

export class Response {
  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    readonly body: Buffer,
  ) {}

  header(name: string): string | undefined {
    const v = this.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  text(): string {
    return this.body.toString('utf8');
  }

  json<T = any>(): T {
    return JSON.parse(this.text()) as T;
  }

  /** The Location header as path + query, whatever scheme and host it names. */
  get location(): string {
    const loc = this.header('location');
    if (!loc) throw new Error(`no Location header (status ${this.status}: ${this.text()})`);
    const u = new URL(loc, 'http://relative.invalid');
    return u.pathname + u.search;
  }

  /** Short description for assertion messages. */
  describe(): string {
    return `${this.status} ${this.text().slice(0, 500)}`;
  }
}

export interface RequestOptions {
  headers?: OutgoingHttpHeaders;
  /** A buffer is sent with its Content-Length; a stream or an array of chunks is sent chunked. */
  body?: Buffer | string | Readable | Buffer[];
}

export class RegistryClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  readonly host: string;
  private readonly hostname: string;
  private readonly port: number;

  constructor(readonly baseUrl: string) {
    const u = new URL(baseUrl);
    this.host = u.host;
    this.hostname = u.hostname;
    this.port = Number(u.port || 80);
  }

  close(): void {
    this.agent.destroy();
  }

  request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: OutgoingHttpHeaders = { ...opts.headers };
    const hasLength = Object.keys(headers).some((h) => h.toLowerCase() === 'content-length');
    let body = opts.body;
    if (typeof body === 'string') body = Buffer.from(body);
    if (Array.isArray(body)) body = Readable.from(body);
    if (body === undefined && !hasLength && !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(method)) {
      // What real clients send for an empty POST/PUT/PATCH; node would otherwise go chunked.
      headers['Content-Length'] = 0;
    }
    if (Buffer.isBuffer(body) && !hasLength) headers['Content-Length'] = body.length;
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { hostname: this.hostname, port: this.port, method, path, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(new Response(res.statusCode ?? 0, res.headers, Buffer.concat(chunks))));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (body instanceof Readable) body.pipe(req);
      else req.end(body);
    });
  }

  get(path: string, headers?: OutgoingHttpHeaders): Promise<Response> {
    return this.request('GET', path, { headers });
  }

  head(path: string, headers?: OutgoingHttpHeaders): Promise<Response> {
    return this.request('HEAD', path, { headers });
  }

  delete(path: string, headers?: OutgoingHttpHeaders): Promise<Response> {
    return this.request('DELETE', path, { headers });
  }

  post(path: string, body?: Buffer | string, headers?: OutgoingHttpHeaders): Promise<Response> {
    return this.request('POST', path, { body, headers });
  }

  put(path: string, body?: Buffer | string, headers?: OutgoingHttpHeaders): Promise<Response> {
    return this.request('PUT', path, { body, headers });
  }

  patch(path: string, body?: Buffer | string | Readable, headers?: OutgoingHttpHeaders): Promise<Response> {
    return this.request('PATCH', path, { body, headers });
  }

  /**
   * Writes `head` (request line and headers, CRLF-separated, without the blank line) and `body`
   * on a fresh TCP connection with `Connection: close`, and parses whatever comes back.
   */
  raw(head: string, body: Buffer = Buffer.alloc(0)): Promise<Response> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.port, this.hostname);
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('end', () => resolve(parseRawResponse(Buffer.concat(chunks))));
      socket.write(
        Buffer.concat([Buffer.from(`${head}\r\nHost: ${this.host}\r\nConnection: close\r\n\r\n`), body]),
      );
    });
  }

  /**
   * Starts a request whose body is cut off: headers announce `declaredLength` bytes, only `sent`
   * go out, then the connection is destroyed. Resolves once the socket is closed.
   */
  truncated(
    method: string,
    path: string,
    headers: Record<string, string>,
    declaredLength: number,
    sent: Buffer,
  ) {
    return new Promise<void>((resolve, reject) => {
      const socket = connect(this.port, this.hostname);
      socket.on('error', reject);
      socket.on('close', () => resolve());
      const lines = Object.entries({ ...headers, 'Content-Length': String(declaredLength) })
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n');
      socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${this.host}\r\n${lines}\r\n\r\n`);
      socket.write(sent, () => setTimeout(() => socket.destroy(), 50));
    });
  }

  // --- registry operations used as setup by many tests -------------------------------------------

  /** POST a session then PUT the whole blob to it. Returns the digest. */
  async pushBlob(repo: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const session = await this.post(`/v2/${repo}/blobs/uploads/`);
    expectStatus(session, 202);
    const put = await this.put(withQuery(session.location, { digest }), data, {
      'Content-Type': 'application/octet-stream',
    });
    expectStatus(put, 201);
    return digest;
  }

  /** One POST with `?digest=` carrying the whole blob. */
  async pushBlobMonolithic(repo: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const res = await this.post(`/v2/${repo}/blobs/uploads/?digest=${digest}`, data, {
      'Content-Type': 'application/octet-stream',
    });
    expectStatus(res, 201);
    return digest;
  }

  /** POST, then PATCH chunks of `chunkSize` with Content-Range, then PUT with no body. */
  async pushBlobChunked(repo: string, data: Buffer, chunkSize: number): Promise<string> {
    const digest = sha256(data);
    let res = await this.post(`/v2/${repo}/blobs/uploads/`);
    expectStatus(res, 202);
    for (let offset = 0; offset < data.length; offset += chunkSize) {
      const chunk = data.subarray(offset, offset + chunkSize);
      res = await this.patch(res.location, chunk, {
        'Content-Type': 'application/octet-stream',
        'Content-Range': `${offset}-${offset + chunk.length - 1}`,
      });
      expectStatus(res, 202);
    }
    res = await this.put(withQuery(res.location, { digest }));
    expectStatus(res, 201);
    return digest;
  }

  putManifest(
    repo: string,
    reference: string,
    body: Buffer,
    mediaType: string,
    headers: OutgoingHttpHeaders = {},
  ) {
    return this.put(`/v2/${repo}/manifests/${reference}`, body, { 'Content-Type': mediaType, ...headers });
  }

  /** PUT a manifest that must be accepted; returns its digest. */
  async pushManifest(repo: string, reference: string, body: Buffer, mediaType: string): Promise<string> {
    const res = await this.putManifest(repo, reference, body, mediaType);
    expectStatus(res, 201);
    return sha256(body);
  }

  /**
   * Pushes config and layers, then the manifest (OCI or Docker schema2) under `reference` (a tag,
   * or the manifest's own digest when omitted).
   */
  async pushImage(repo: string, opts: ImageOptions = {}): Promise<PushedImage> {
    const image = buildImage(opts);
    for (const blob of [image.configBlob, ...image.layerBlobs]) await this.pushBlob(repo, blob);
    const digest = await this.pushManifest(repo, opts.tag ?? image.digest, image.manifest, image.mediaType);
    return { ...image, digest };
  }
}

export interface ImageOptions {
  format?: 'oci' | 'docker';
  tag?: string;
  layers?: Buffer[];
  config?: Buffer;
  platform?: { architecture: string; os: string };
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface BuiltImage {
  mediaType: string;
  manifest: Buffer;
  digest: string;
  configBlob: Buffer;
  layerBlobs: Buffer[];
  config: Descriptor;
  layers: Descriptor[];
}

export type PushedImage = BuiltImage;

/** An image manifest (and its blobs) with unique content unless `config`/`layers` are given. */
export function buildImage(opts: ImageOptions = {}): BuiltImage {
  const docker = opts.format === 'docker';
  const platform = opts.platform ?? { architecture: 'amd64', os: 'linux' };
  const configBlob =
    opts.config ??
    Buffer.from(
      JSON.stringify({
        ...platform,
        author: randomBytes(8).toString('hex'),
        rootfs: { type: 'layers', diff_ids: [] },
        history: [{ created_by: 'e2e' }],
      }),
    );
  const layerBlobs = opts.layers ?? [randomBlob(512)];
  const config = descriptorOf(docker ? MT.dockerConfig : MT.ociConfig, configBlob);
  const layers = layerBlobs.map((l) => descriptorOf(docker ? MT.dockerLayer : MT.ociLayer, l));
  const mediaType = docker ? MT.dockerManifest : MT.ociManifest;
  const manifest = jsonBytes({
    schemaVersion: 2,
    mediaType,
    ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
    config,
    layers,
    ...(opts.subject ? { subject: opts.subject } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  });
  return { mediaType, manifest, digest: sha256(manifest), configBlob, layerBlobs, config, layers };
}

export function indexOf(
  mediaType: string,
  manifests: Descriptor[],
  extra: { subject?: Descriptor; artifactType?: string; annotations?: Record<string, string> } = {},
): Buffer {
  return jsonBytes({
    schemaVersion: 2,
    mediaType,
    ...(extra.artifactType ? { artifactType: extra.artifactType } : {}),
    manifests,
    ...(extra.subject ? { subject: extra.subject } : {}),
    ...(extra.annotations ? { annotations: extra.annotations } : {}),
  });
}

/** Pretty-printed like most clients do, so byte-exactness checks are not trivially compact JSON. */
export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 2));
}

export function withQuery(path: string, query: Record<string, string>): string {
  const q = new URLSearchParams(query).toString();
  return path + (path.includes('?') ? '&' : '?') + q;
}

export function expectStatus(res: Response, status: number): void {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.describe()}`);
}

export interface ErrorBody {
  errors: { code: string; message?: string; detail?: unknown }[];
}

/**
 * Asserts the spec's failure shape: the status, a JSON `{"errors":[...]}` envelope whose first code
 * is `code`, every code upper-case letters and `_`, every message a string.
 */
export function expectError(res: Response, status: number, code: string): ErrorBody {
  let body: ErrorBody | undefined;
  try {
    body = res.json<ErrorBody>();
  } catch {
    body = undefined;
  }
  expect({ status: res.status, code: body?.errors?.[0]?.code }).toEqual({ status, code });
  expect(res.header('content-type')).toMatch(/^application\/json/);
  expect(Array.isArray(body!.errors)).toBe(true);
  for (const e of body!.errors) {
    expect(e.code).toMatch(/^[A-Z_]+$/);
    expect(typeof e.message).toBe('string');
  }
  return body!;
}

/** For HEAD, where an error has a status but no body. */
export function expectHeadError(res: Response, status: number): void {
  expect(res.status).toBe(status);
  expect(res.body.length).toBe(0);
}

function parseRawResponse(buf: Buffer): Response {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return new Response(0, {}, buf);
  const [statusLine, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const headers: IncomingHttpHeaders = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = buf.subarray(end + 4);
  if (/chunked/i.test(String(headers['transfer-encoding'] ?? ''))) body = dechunk(body);
  return new Response(Number(statusLine.split(' ')[1]), headers, body);
}

function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(i, eol).toString(), 16);
    if (!size) break;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
