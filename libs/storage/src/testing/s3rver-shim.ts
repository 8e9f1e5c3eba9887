import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type S3rver from 's3rver';
import { verifySigV4, type SigV4Credentials } from './sigv4';

/*
 * Test support only. A Koa middleware placed in front of s3rver 3.7.1's own stack that turns it into
 * a server the S3 driver can be tested against as if it were MinIO:
 *
 *   - every request must carry a valid AWS Signature V4 (header or presigned query); s3rver takes
 *     unsigned requests and any V4 signature
 *   - UploadPartCopy and AbortMultipartUpload, which s3rver lacks
 *   - PutObject, CopyObject and CompleteMultipartUpload written to a temporary file and renamed,
 *     so that, as on S3, a reader sees the old object or the whole new one, an interrupted PUT
 *     leaves nothing, and the body is checked against Content-Length, x-amz-content-sha256 and
 *     Content-MD5; CompleteMultipartUpload also enforces S3's minimum part size
 *   - DeleteObject and DeleteObjects, whose s3rver versions race when keys share a directory
 *   - GetObject and HeadObject: s3rver serves `Range: bytes=0-0` as the whole object, and spends
 *     milliseconds per request looking for CORS and website configurations
 *
 * Everything else (recursive ListObjectsV2, CreateMultipartUpload, UploadPart, buckets) is
 * s3rver's; every operation works on s3rver's own files. Not shimmed because the driver never
 * uses them: ListMultipartUploads, ListParts, and listing with a delimiter (which s3rver gets wrong).
 */

export interface S3Operation {
  name: string;
  key: string;
  /** The Host header: tells a presigned URL's request (public name) from the driver's own. */
  host: string;
  /** Signed in the query (a presigned URL) rather than in the Authorization header. */
  presigned: boolean;
  /** The Range header, when there was one. */
  range?: string;
}

export interface ShimOptions {
  credentials: SigV4Credentials;
  /** Smallest part (but the last) CompleteMultipartUpload accepts; S3's is 5 MiB. */
  minPartSize: number;
  record(operation: S3Operation): void;
}

const MAX_PARTS = 10_000;
// Large reads: the copies at commit move whole blobs through this process.
const READ_OPTIONS = { highWaterMark: 1024 * 1024 };
const UPLOAD_ID = /^[0-9a-f]{32}$/;

class S3ShimError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Route {
  name: string;
  bucket: string;
  key: string;
}

export function s3rverShim(options: ShimOptions): S3rver.Middleware {
  return async (ctx, next) => {
    let route: Route;
    try {
      route = classify(ctx);
    } catch {
      return fail(ctx, new S3ShimError(400, 'InvalidURI', 'Could not parse the specified URI.'));
    }
    options.record({
      name: route.name,
      key: route.key,
      host: ctx.req.headers.host ?? '',
      presigned: /(^|&)X-Amz-Signature=/i.test(ctx.querystring),
      ...(ctx.req.headers.range ? { range: ctx.req.headers.range } : {}),
    });

    let auth;
    try {
      auth = verifySigV4(ctx.req, options.credentials);
    } catch {
      auth = { ok: false as const, status: 400, code: 'InvalidRequest', message: 'malformed request' };
    }
    if (!auth.ok) return fail(ctx, new S3ShimError(auth.status, auth.code, auth.message));
    // Verified here; s3rver must not try its own (partial) checks on top.
    delete ctx.req.headers.authorization;
    if (auth.presigned) {
      ctx.querystring = ctx.querystring
        .split('&')
        .filter((p) => !/^X-Amz-/i.test(p))
        .join('&');
    }

    try {
      switch (route.name) {
        case 'PutObject':
          return await putObject(ctx, route);
        case 'CopyObject':
          return await copyObject(ctx, route);
        case 'UploadPartCopy':
          return await uploadPartCopy(ctx, route, options);
        case 'CompleteMultipartUpload':
          return await completeMultipartUpload(ctx, route, options);
        case 'AbortMultipartUpload':
          return await abortMultipartUpload(ctx, route);
        case 'DeleteObject':
          await requireBucket(ctx, route.bucket);
          await deleteObject(ctx.store, route.bucket, route.key);
          ctx.status = 204;
          ctx.body = null;
          return;
        case 'DeleteObjects':
          return await deleteObjects(ctx, route);
        case 'GetObject':
        case 'HeadObject':
          return await getObject(ctx, route);
        default:
          return await next();
      }
    } catch (err) {
      if (err instanceof S3ShimError) return fail(ctx, err);
      throw err;
    }
  };
}

function classify(ctx: S3rver.Context): Route {
  const [, bucketPart = '', ...keyParts] = ctx.path.split('/');
  const bucket = decodeURIComponent(bucketPart);
  const key = keyParts.map(decodeURIComponent).join('/');
  if (key.split('/').some((s) => s === '.' || s === '..') || key.includes('\0'))
    throw new Error('unsafe key');
  // Presigned requests carry their signature in X-Amz-* parameters; they do not change the operation.
  const q = Object.fromEntries(Object.entries(ctx.query).filter(([k]) => !/^X-Amz-/i.test(k)));
  const copy = 'x-amz-copy-source' in ctx.req.headers;
  const name = ((): string => {
    if (!key) {
      if (ctx.method === 'POST' && 'delete' in q) return 'DeleteObjects';
      if (ctx.method === 'GET' && Object.keys(q).every((k) => LIST_PARAMS.has(k))) return 'ListObjects';
      return `${ctx.method}Bucket`;
    }
    switch (ctx.method) {
      case 'PUT':
        if ('uploadId' in q) return copy ? 'UploadPartCopy' : 'UploadPart';
        if (Object.keys(q).length > 0) return 'PutObjectSubresource';
        return copy ? 'CopyObject' : 'PutObject';
      case 'POST':
        if ('uploads' in q) return 'CreateMultipartUpload';
        if ('uploadId' in q) return 'CompleteMultipartUpload';
        return 'PostObject';
      case 'DELETE':
        if ('uploadId' in q) return 'AbortMultipartUpload';
        return Object.keys(q).length > 0 ? 'DeleteObjectSubresource' : 'DeleteObject';
      case 'GET':
      case 'HEAD':
        if (Object.keys(q).some((k) => !k.startsWith('response-'))) return `${ctx.method}ObjectSubresource`;
        return ctx.method === 'GET' ? 'GetObject' : 'HeadObject';
      default:
        return `${ctx.method}Object`;
    }
  })();
  return { name, bucket, key };
}

const LIST_PARAMS = new Set([
  'list-type',
  'prefix',
  'delimiter',
  'max-keys',
  'continuation-token',
  'start-after',
  'marker',
  'encoding-type',
  'fetch-owner',
]);

async function getObject(ctx: S3rver.Context, route: Route): Promise<void> {
  await requireBucket(ctx, route.bucket);
  const file = ctx.store.getResourcePath(route.bucket, route.key, 'object');
  // Opened first: the descriptor keeps serving this version even if a PUT renames another over it.
  const fh = await open(file, 'r').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') {
      throw new S3ShimError(404, 'NoSuchKey', 'The specified key does not exist.');
    }
    throw e;
  });
  try {
    const { size, mtime } = await fh.stat();
    const metadata = await ctx.store
      .getMetadata(route.bucket, route.key)
      .catch(() => ({}) as Record<string, string>);
    let range: { start: number; end: number } | null = null;
    const header = ctx.req.headers.range;
    const m = typeof header === 'string' ? /^bytes=(\d*)-(\d*)$/.exec(header) : null;
    if (m && (m[1] || m[2])) {
      // As S3: an end past the object is cut to it, a start past it is unsatisfiable.
      const start = m[1] ? Number(m[1]) : Math.max(0, size - Number(m[2]));
      const end = m[1] && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      if (start >= size || end < start) {
        throw new S3ShimError(416, 'InvalidRange', 'The requested range is not satisfiable');
      }
      range = { start, end };
    }
    ctx.set('Accept-Ranges', 'bytes');
    ctx.set('Last-Modified', mtime.toUTCString());
    ctx.set('Content-Type', String(metadata['content-type'] ?? 'binary/octet-stream'));
    if (metadata['etag']) ctx.set('ETag', String(metadata['etag']));
    for (const [name, value] of Object.entries(metadata)) {
      if (name.startsWith('x-amz-meta-')) ctx.set(name, String(value));
    }
    ctx.status = range ? 206 : 200;
    if (range) ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    ctx.set('Content-Length', String(range ? range.end - range.start + 1 : size));
    if (ctx.method === 'HEAD' || size === 0) {
      await fh.close();
      if (ctx.method !== 'HEAD') ctx.body = '';
      return;
    }
    ctx.body = fh.createReadStream({ ...(range ?? {}), ...READ_OPTIONS });
  } catch (err) {
    await fh.close();
    throw err;
  }
}

async function putObject(ctx: S3rver.Context, route: Route): Promise<void> {
  await requireBucket(ctx, route.bucket);
  const headers = ctx.req.headers;
  if ('x-amz-decoded-content-length' in headers) {
    throw new S3ShimError(501, 'NotImplemented', 'streaming (aws-chunked) uploads are not supported');
  }
  const declaredLength = headers['content-length'] === undefined ? null : Number(headers['content-length']);
  // A hex value is the signed hash of the body (plain HTTP); UNSIGNED-PAYLOAD leaves it to TLS.
  const signedSha256 = String(headers['x-amz-content-sha256'] ?? '');
  const checkSha256 = /^[0-9a-f]{64}$/.test(signedSha256);
  const target = ctx.store.getResourcePath(route.bucket, route.key, 'object');
  const written = await writeAtomically(
    target,
    ctx.req,
    async (body) => {
      if (declaredLength !== null && body.size !== declaredLength) {
        throw new S3ShimError(400, 'IncompleteBody', 'the body is shorter than Content-Length');
      }
      if (checkSha256 && signedSha256 !== body.sha256) {
        throw new S3ShimError(
          400,
          'XAmzContentSHA256Mismatch',
          'the body does not match x-amz-content-sha256',
        );
      }
      const md5 = headers['content-md5'];
      if (typeof md5 === 'string' && md5 !== Buffer.from(body.md5, 'hex').toString('base64')) {
        throw new S3ShimError(400, 'BadDigest', 'the body does not match Content-MD5');
      }
      await ctx.store.putMetadata(route.bucket, route.key, headers, body.md5);
    },
    { md5: true, sha256: checkSha256 },
  );
  ctx.set('ETag', JSON.stringify(written.md5));
  ctx.status = 200;
  ctx.body = '';
}

async function copyObject(ctx: S3rver.Context, route: Route): Promise<void> {
  await requireBucket(ctx, route.bucket);
  const source = await copySource(ctx);
  if (source.bucket === route.bucket && source.key === route.key) {
    throw new S3ShimError(
      400,
      'InvalidRequest',
      'This copy request is illegal because it copies an object to itself.',
    );
  }
  const metadata = await ctx.store.getMetadata(source.bucket, source.key);
  const target = ctx.store.getResourcePath(route.bucket, route.key, 'object');
  const written = await writeAtomically(target, createReadStream(source.file, READ_OPTIONS), (body) =>
    ctx.store.putMetadata(route.bucket, route.key, metadata, body.md5),
  );
  xml(
    ctx,
    `<CopyObjectResult><LastModified>${new Date().toISOString()}</LastModified><ETag>${escapeXml(
      JSON.stringify(written.md5),
    )}</ETag></CopyObjectResult>`,
  );
}

async function uploadPartCopy(ctx: S3rver.Context, route: Route, options: ShimOptions): Promise<void> {
  await requireBucket(ctx, route.bucket);
  const upload = await multipartUpload(ctx, route);
  const partNumber = Number(ctx.query['partNumber']);
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) {
    throw new S3ShimError(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000');
  }
  const source = await copySource(ctx);
  let range = { start: 0, end: source.size - 1 };
  const rangeHeader = ctx.req.headers['x-amz-copy-source-range'];
  if (typeof rangeHeader === 'string') {
    const m = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader);
    if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) >= source.size) {
      throw new S3ShimError(416, 'InvalidRange', 'The requested range is not satisfiable');
    }
    if (source.size <= options.minPartSize) {
      throw new S3ShimError(400, 'InvalidRequest', 'a range can only be copied out of an object above 5 MiB');
    }
    range = { start: Number(m[1]), end: Number(m[2]) };
  }
  const partFile = path.join(upload, String(partNumber));
  const body =
    range.end < range.start
      ? Readable.from([])
      : createReadStream(source.file, { ...READ_OPTIONS, start: range.start, end: range.end });
  const written = await writeAtomically(partFile, body, (b) => writeFile(`${partFile}.md5`, b.md5));
  xml(
    ctx,
    `<CopyPartResult><LastModified>${new Date().toISOString()}</LastModified><ETag>${escapeXml(
      JSON.stringify(written.md5),
    )}</ETag></CopyPartResult>`,
  );
}

async function completeMultipartUpload(
  ctx: S3rver.Context,
  route: Route,
  options: ShimOptions,
): Promise<void> {
  await requireBucket(ctx, route.bucket);
  const upload = await multipartUpload(ctx, route);
  const body = await readBody(ctx.req, 4 * 1024 * 1024);
  const parts = [...body.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map(([, part]) => ({
    number: Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(part)?.[1]),
    etag: unescapeXml(/<ETag>([\s\S]*?)<\/ETag>/.exec(part)?.[1] ?? '').replace(/"/g, ''),
  }));
  if (parts.length === 0 || parts.some((p) => !Number.isInteger(p.number))) {
    throw new S3ShimError(400, 'MalformedXML', 'The XML you provided was not well-formed.');
  }
  const md5s: Buffer[] = [];
  for (const [i, part] of parts.entries()) {
    if (i > 0 && part.number <= parts[i - 1].number) {
      throw new S3ShimError(400, 'InvalidPartOrder', 'The list of parts was not in ascending order.');
    }
    const file = path.join(upload, String(part.number));
    const [size, md5] = await Promise.all([
      stat(file).then(
        (s) => s.size,
        () => null,
      ),
      readFile(`${file}.md5`, 'utf8').catch(() => null),
    ]);
    if (size === null || md5 !== part.etag) {
      throw new S3ShimError(
        400,
        'InvalidPart',
        `part ${part.number} was not uploaded or its ETag does not match`,
      );
    }
    if (i < parts.length - 1 && size < options.minPartSize) {
      throw new S3ShimError(
        400,
        'EntityTooSmall',
        `part ${part.number} is smaller than the minimum allowed size`,
      );
    }
    md5s.push(Buffer.from(md5, 'hex'));
  }
  const etag = `${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${parts.length}`;
  const metadata = JSON.parse(await readFile(path.join(upload, 'metadata'), 'utf8')) as Record<
    string,
    unknown
  >;
  const files = parts.map((p) => path.join(upload, String(p.number)));
  async function* concatenated(): AsyncGenerator<Buffer> {
    for (const file of files)
      for await (const chunk of createReadStream(file, READ_OPTIONS)) yield chunk as Buffer;
  }
  const target = ctx.store.getResourcePath(route.bucket, route.key, 'object');
  await writeAtomically(
    target,
    Readable.from(concatenated()),
    () => ctx.store.putMetadata(route.bucket, route.key, metadata, etag),
    { md5: false },
  );
  await rm(upload, { recursive: true, force: true });
  xml(
    ctx,
    `<CompleteMultipartUploadResult><Location>/${escapeXml(route.bucket)}/${escapeXml(route.key)}</Location>` +
      `<Bucket>${escapeXml(route.bucket)}</Bucket><Key>${escapeXml(route.key)}</Key>` +
      `<ETag>${escapeXml(JSON.stringify(etag))}</ETag></CompleteMultipartUploadResult>`,
  );
}

async function abortMultipartUpload(ctx: S3rver.Context, route: Route): Promise<void> {
  await requireBucket(ctx, route.bucket);
  const upload = await multipartUpload(ctx, route);
  await rm(upload, { recursive: true, force: true });
  ctx.status = 204;
  ctx.body = null;
}

async function deleteObjects(ctx: S3rver.Context, route: Route): Promise<void> {
  await requireBucket(ctx, route.bucket);
  const body = await readBody(ctx.req, 4 * 1024 * 1024);
  const keys = [...body.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map(([, k]) => unescapeXml(k));
  if (keys.length === 0 || keys.length > 1000) {
    throw new S3ShimError(400, 'MalformedXML', 'The XML you provided was not well-formed.');
  }
  for (const key of keys) {
    if (key.split('/').some((s) => s === '.' || s === '..') || key.includes('\0')) {
      throw new S3ShimError(400, 'InvalidArgument', 'invalid key');
    }
  }
  await Promise.all(keys.map((key) => deleteObject(ctx.store, route.bucket, key)));
  const quiet = /<Quiet>\s*true\s*<\/Quiet>/.test(body);
  xml(
    ctx,
    `<DeleteResult>${quiet ? '' : keys.map((k) => `<Deleted><Key>${escapeXml(k)}</Key></Deleted>`).join('')}</DeleteResult>`,
  );
}

/** Unlinks the object file first, so that it is gone in one step; leaves directories (harmless). */
async function deleteObject(store: S3rver.Store, bucket: string, key: string): Promise<void> {
  for (const resource of ['object', 'object.md5', 'metadata.json']) {
    await unlink(store.getResourcePath(bucket, key, resource)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT' && e.code !== 'ENOTDIR') throw e;
    });
  }
}

async function requireBucket(ctx: S3rver.Context, bucket: string): Promise<void> {
  if (!(await ctx.store.getBucket(bucket))) {
    throw new S3ShimError(404, 'NoSuchBucket', 'The specified bucket does not exist');
  }
}

/** s3rver keeps a multipart upload in `<bucket>/._S3rver_uploads/<id>/` with its key in `key`. */
async function multipartUpload(ctx: S3rver.Context, route: Route): Promise<string> {
  const id = ctx.query['uploadId'];
  const noSuchUpload = new S3ShimError(404, 'NoSuchUpload', 'The specified upload does not exist.');
  if (typeof id !== 'string' || !UPLOAD_ID.test(id)) throw noSuchUpload;
  const dir = path.join(ctx.store.getResourcePath(route.bucket, undefined, 'uploads'), id);
  const key = await readFile(path.join(dir, 'key'), 'utf8').catch(() => null);
  if (key !== route.key) throw noSuchUpload;
  return dir;
}

async function copySource(
  ctx: S3rver.Context,
): Promise<{ bucket: string; key: string; file: string; size: number }> {
  const header = String(ctx.req.headers['x-amz-copy-source'] ?? '');
  const [bucket = '', ...keyParts] = header.replace(/^\//, '').split('/');
  let key: string;
  try {
    key = keyParts.map(decodeURIComponent).join('/');
  } catch {
    throw new S3ShimError(400, 'InvalidArgument', 'invalid x-amz-copy-source');
  }
  if (!key || key.split('/').some((s) => s === '.' || s === '..') || key.includes('\0')) {
    throw new S3ShimError(400, 'InvalidArgument', 'invalid x-amz-copy-source');
  }
  await requireBucket(ctx, decodeURIComponent(bucket));
  const file = ctx.store.getResourcePath(decodeURIComponent(bucket), key, 'object');
  const size = await stat(file).then(
    (s) => s.size,
    () => null,
  );
  if (size === null) throw new S3ShimError(404, 'NoSuchKey', 'The specified key does not exist.');
  return { bucket: decodeURIComponent(bucket), key, file, size };
}

interface Written {
  size: number;
  md5: string;
  sha256: string;
}

/**
 * Streams `source` into a temporary file beside `target` and renames it into place once `check`
 * accepted what arrived; on any failure the temporary file goes and `target` is untouched.
 */
async function writeAtomically(
  target: string,
  source: Readable,
  check: (written: Written) => Promise<unknown>,
  hashes: { md5?: boolean; sha256?: boolean } = { md5: true },
): Promise<Written> {
  await mkdir(path.dirname(target), { recursive: true });
  // s3rver's listing only counts files ending in `._S3rver_object`, so this one stays invisible.
  const tmp = `${target}.${randomUUID()}.tmp`;
  try {
    // Hashing costs as much as the disk here; only what a caller checks is computed.
    const md5 = hashes.md5 === false ? null : createHash('md5');
    const sha256 = hashes.sha256 ? createHash('sha256') : null;
    let size = 0;
    await pipeline(
      source,
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          md5?.update(chunk);
          sha256?.update(chunk);
          size += chunk.length;
          callback(null, chunk);
        },
      }),
      createWriteStream(tmp, { flags: 'wx' }),
    );
    const written = { size, md5: md5?.digest('hex') ?? '', sha256: sha256?.digest('hex') ?? '' };
    await check(written);
    await rename(tmp, target);
    return written;
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

async function readBody(req: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new S3ShimError(400, 'MaxMessageLengthExceeded', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function xml(ctx: S3rver.Context, body: string): void {
  ctx.status = 200;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
}

function fail(ctx: S3rver.Context, err: S3ShimError): void {
  ctx.status = err.status;
  ctx.type = 'application/xml';
  ctx.body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(err.code)}</Code>` +
    `<Message>${escapeXml(err.message)}</Message></Error>`;
}

function escapeXml(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c,
  );
}

function unescapeXml(s: string): string {
  return s.replace(
    /&(lt|gt|amp|quot|apos|#34|#39);/g,
    (_, e: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", '#34': '"', '#39': "'" })[e] ?? '',
  );
}
