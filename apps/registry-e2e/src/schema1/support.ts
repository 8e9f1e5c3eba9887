/**
 * Helpers for the schema1 e2e tests: raw HTTP (node:http, so a request can carry no Accept at all:
 * fetch always adds `Accept: *\/*`), pushes that work against Wharf and Distribution 2.8 alike
 * (POST then PUT: Distribution ignores a digest on POST), and a JWS verifier written from the
 * libtrust format description alone, sharing no code with libs/schema1.
 */
import { createHash, createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@wharf/config';
import { startRegistry } from '@wharf/registry-app';
import { createTestDatabase } from '../support/in-process';

export const MT = {
  schema1: 'application/vnd.docker.distribution.manifest.v1+json',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  docker: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  oci: 'application/vnd.oci.image.manifest.v1+json',
} as const;

export const EMPTY_LAYER_DIGEST = 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';

/** What old clients send: nothing, wildcards, plain JSON, the schema1 types, and the list type alone. */
export const OLD_CLIENT_ACCEPTS: { name: string; accept?: string }[] = [
  { name: 'no Accept' },
  { name: '*/*', accept: '*/*' },
  { name: 'application/json', accept: 'application/json' },
  { name: 'schema1 prettyjws', accept: MT.schema1Signed },
  { name: 'schema1 json', accept: MT.schema1 },
  { name: 'both schema1 types with q-values', accept: `${MT.schema1Signed}; q=0.9, ${MT.schema1}; q=0.5` },
];

export const sha256 = (data: Buffer | string): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export function http(
  method: string,
  url: string,
  opts: { headers?: Record<string, string>; body?: Buffer } = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.body !== undefined || ['PUT', 'POST', 'PATCH'].includes(method))
      headers['Content-Length'] = opts.body?.length ?? 0;
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function getManifest(
  base: string,
  repo: string,
  reference: string,
  accept?: string,
  method: 'GET' | 'HEAD' = 'GET',
): Promise<HttpResponse> {
  return http(method, `${base}/v2/${repo}/manifests/${reference}`, {
    headers: accept === undefined ? {} : { Accept: accept },
  });
}

function describe(res: HttpResponse): string {
  return `${res.status} ${res.body.toString('utf8').slice(0, 400)}`;
}

export async function pushBlob(base: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const start = await http('POST', `${base}/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`POST upload: ${describe(start)}`);
  const location = new URL(String(start.headers.location), base);
  location.searchParams.set('digest', digest);
  const done = await http('PUT', location.toString(), {
    headers: { 'Content-Type': 'application/octet-stream' },
    body: data,
  });
  if (done.status !== 201) throw new Error(`PUT upload: ${describe(done)}`);
  return digest;
}

export async function putManifest(
  base: string,
  repo: string,
  reference: string,
  contentType: string,
  body: Buffer,
): Promise<HttpResponse> {
  return http('PUT', `${base}/v2/${repo}/manifests/${reference}`, {
    headers: { 'Content-Type': contentType },
    body,
  });
}

/** A Docker schema2 image: exact config bytes, opaque layers (registries never look inside). */
export interface TestImage {
  config: Buffer;
  layers: Buffer[];
}

export function schema2ManifestOf(image: TestImage): Buffer {
  return Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: MT.docker,
        config: { mediaType: MT.dockerConfig, size: image.config.length, digest: sha256(image.config) },
        layers: image.layers.map((l) => ({ mediaType: MT.dockerLayer, size: l.length, digest: sha256(l) })),
      },
      null,
      3,
    ),
  );
}

/** Pushes blobs then the manifest; returns the manifest bytes and digest. */
export async function pushImage(
  base: string,
  repo: string,
  reference: string,
  image: TestImage,
): Promise<{ body: Buffer; digest: string }> {
  for (const blob of [image.config, ...image.layers]) await pushBlob(base, repo, blob);
  const body = schema2ManifestOf(image);
  const res = await putManifest(base, repo, reference, MT.docker, body);
  if (res.status !== 201) throw new Error(`PUT manifest ${repo}:${reference}: ${describe(res)}`);
  return { body, digest: sha256(body) };
}

export async function pushList(
  base: string,
  repo: string,
  tag: string,
  children: { digest: string; size: number; platform: Record<string, string> }[],
): Promise<{ body: Buffer; digest: string }> {
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.dockerList,
      manifests: children.map((c) => ({
        mediaType: MT.docker,
        size: c.size,
        digest: c.digest,
        platform: c.platform,
      })),
    }),
  );
  const res = await putManifest(base, repo, tag, MT.dockerList, body);
  if (res.status !== 201) throw new Error(`PUT list ${repo}:${tag}: ${describe(res)}`);
  return { body, digest: sha256(body) };
}

export interface VerifiedJws {
  /** doc[0:formatLength] + formatTail: the bytes the digest is over. */
  payload: Buffer;
  digest: string;
  kids: string[];
  /** Decoded protected headers. */
  protectedHeaders: { formatLength: number; formatTail: string; time: string }[];
  jwks: Record<string, string>[];
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** libtrust key id, from its description: base32 of the first 240 bits of SHA-256(SPKI DER), in groups of 4. */
export function keyIdOf(jwk: JsonWebKey): string {
  const der = createPublicKey({
    key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
    format: 'jwk',
  }).export({
    type: 'spki',
    format: 'der',
  });
  const bits = [...createHash('sha256').update(der).digest().subarray(0, 30)]
    .map((b) => b.toString(2).padStart(8, '0'))
    .join('');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += BASE32[parseInt(bits.slice(i, i + 5), 2)];
  return out.match(/.{4}/g)!.join(':');
}

/**
 * Verifies every ES256 signature of a pretty JWS schema1 document: the signing input is
 * `protected + "." + base64url(payload)` with the payload rebuilt from the protected header,
 * the signature raw r‖s over it with the signature's own jwk. Throws on any failure.
 */
export function verifyJwsIndependently(doc: Buffer): VerifiedJws {
  const parsed = JSON.parse(doc.toString('utf8')) as {
    signatures: {
      header: { jwk: Record<string, string>; alg: string };
      signature: string;
      protected: string;
    }[];
  };
  if (!Array.isArray(parsed.signatures) || parsed.signatures.length === 0) throw new Error('no signatures');
  let payload: Buffer | undefined;
  const out: VerifiedJws = { payload: Buffer.alloc(0), digest: '', kids: [], protectedHeaders: [], jwks: [] };
  for (const sig of parsed.signatures) {
    const header = JSON.parse(Buffer.from(sig.protected, 'base64url').toString('utf8'));
    const rebuilt = Buffer.concat([
      doc.subarray(0, header.formatLength),
      Buffer.from(header.formatTail, 'base64url'),
    ]);
    if (payload && !payload.equals(rebuilt)) throw new Error('signatures disagree on the payload');
    payload = rebuilt;
    if (sig.header.alg !== 'ES256') throw new Error(`unexpected alg ${sig.header.alg}`);
    const jwk = sig.header.jwk;
    const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
    const input = Buffer.from(`${sig.protected}.${rebuilt.toString('base64url')}`, 'ascii');
    const signature = Buffer.from(sig.signature, 'base64url');
    if (signature.length !== 64) throw new Error('an ES256 signature is 64 raw bytes');
    if (!verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature))
      throw new Error('signature does not verify');
    if (jwk.kid !== keyIdOf(jwk)) throw new Error(`kid ${jwk.kid} is not the key's libtrust id`);
    out.kids.push(jwk.kid);
    out.jwks.push(jwk);
    out.protectedHeaders.push(header);
  }
  out.payload = payload!;
  out.digest = sha256(payload!);
  return out;
}

export interface WharfInstance {
  url: string;
  dataDir: string;
  databaseUrl: string;
  /** Stops the registry; with keep, the database and data directory stay for a restart. */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

/**
 * The all-in-one in-process, like startInProcessRegistry, but with the database and data directory
 * exposed so a test can restart on them or look at the rows.
 */
export async function startWharf(
  env: Record<string, string> = {},
  reuse?: { dataDir: string; databaseUrl: string; drop(): void },
): Promise<WharfInstance & { drop(): void }> {
  const db = reuse ? { url: reuse.databaseUrl, drop: reuse.drop } : createTestDatabase();
  const dataDir = reuse?.dataDir ?? mkdtempSync(join(tmpdir(), 'wharf-schema1-'));
  const drop = (): void => {
    db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  try {
    registry = await startRegistry(
      loadConfig({
        WHARF_HTTP_ADDR: '127.0.0.1:0',
        WHARF_DATA_DIR: dataDir,
        WHARF_DATABASE_URL: db.url,
        WHARF_LOG_LEVEL: process.env.WHARF_LOG_LEVEL ?? 'warn',
        ...env,
      }),
    );
  } catch (e) {
    drop();
    throw e;
  }
  return {
    url: registry.url,
    dataDir,
    databaseUrl: db.url,
    drop,
    stop: async (opts) => {
      await registry.close();
      if (!opts?.keep) drop();
    },
  };
}
