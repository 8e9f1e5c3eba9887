/**
 * Helpers for the access-control e2e tests: credentials and policy files, a small fetch-based client
 * that keeps every header visible, a token client for the built-in token service, and a tiny OCI
 * image pushed over plain HTTP.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';

export const MT_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

/** A scratch directory with the htpasswd and policy files the registry watches. */
export class AuthFiles {
  readonly dir = mkdtempSync(join(tmpdir(), 'wharf-auth-'));
  readonly htpasswd = join(this.dir, 'htpasswd');
  readonly policy = join(this.dir, 'policy.yaml');

  constructor(users: Record<string, string>, policy: string) {
    this.writeUsers(users);
    this.writePolicy(policy);
  }

  /** Replaced atomically, as an editor or a Secret update would. Cost 4 keeps the tests fast. */
  writeUsers(users: Record<string, string>): void {
    const lines = Object.entries(users).map(
      ([u, p]) => `${u}:${bcrypt.hashSync(p, 4).replace(/^\$2b\$/, '$2y$')}`,
    );
    this.replace(this.htpasswd, `# test users\n${lines.join('\n')}\n`);
  }

  writePolicy(policy: string): void {
    this.replace(this.policy, policy);
  }

  private replace(file: string, content: string): void {
    const tmp = `${file}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, content);
    renameSync(tmp, file);
  }
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json<T = any>(): T;
  header(name: string): string | null;
}

export async function http(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Reply> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: init.headers,
    body: init.body,
    redirect: 'manual',
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: () => JSON.parse(text),
    header: (name) => res.headers.get(name),
  };
}

/** The payload of a JWT, unverified: what the token service granted. */
export function jwtPayload(token: string): any {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** GET /auth/token as Docker clients ask it: Basic credentials (or none), repeated scope. */
export async function fetchToken(
  base: string,
  scopes: string[],
  creds?: { user: string; password: string },
  extra: Record<string, string> = {},
): Promise<Reply> {
  const q = new URLSearchParams({ service: 'wharf', ...extra });
  for (const s of scopes) q.append('scope', s);
  return http(`${base}/auth/token?${q}`, { headers: creds ? basic(creds.user, creds.password) : {} });
}

export async function tokenFor(
  base: string,
  scopes: string[],
  creds?: { user: string; password: string },
): Promise<string> {
  const r = await fetchToken(base, scopes, creds);
  if (r.status !== 200) throw new Error(`token request failed: ${r.status} ${r.text}`);
  return r.json().token;
}

export interface TinyImage {
  layer: Buffer;
  config: Buffer;
  manifest: Buffer;
  digest: string;
}

/** A one-layer OCI image nobody has pushed before. */
export function tinyImage(): TinyImage {
  const layer = randomBytes(256);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
      history: [{ comment: randomBytes(8).toString('hex') }],
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT_OCI_MANIFEST,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: sha256(layer),
          size: layer.length,
        },
      ],
    }),
  );
  return { layer, config, manifest, digest: sha256(manifest) };
}

/**
 * Pushes `image` to name:tag with monolithic blob uploads; `auth` gives the headers for a request
 * (so token tests can fetch a token per scope). Throws unless every step succeeds.
 */
export async function pushImage(
  base: string,
  name: string,
  tag: string,
  image: TinyImage,
  headers: Record<string, string>,
): Promise<void> {
  for (const blob of [image.layer, image.config]) {
    const r = await http(`${base}/v2/${name}/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/octet-stream' },
      body: blob,
    });
    if (r.status !== 201) throw new Error(`blob upload to ${name}: ${r.status} ${r.text}`);
  }
  const r = await http(`${base}/v2/${name}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...headers, 'Content-Type': MT_OCI_MANIFEST },
    body: image.manifest,
  });
  if (r.status !== 201) throw new Error(`manifest PUT to ${name}: ${r.status} ${r.text}`);
}

/** Follows the catalog's Link headers from the first page; returns every page. */
export async function catalogPages(
  base: string,
  n: number,
  headers: Record<string, string>,
): Promise<string[][]> {
  const pages: string[][] = [];
  let path: string | undefined = `/v2/_catalog?n=${n}`;
  while (path) {
    const r = await http(`${base}${path}`, { headers });
    if (r.status !== 200) throw new Error(`catalog: ${r.status} ${r.text}`);
    pages.push(r.json().repositories);
    const link = r.header('link');
    path = link ? /^<([^>]+)>/.exec(link)?.[1] : undefined;
    if (pages.length > 100) throw new Error('catalog pagination does not end');
  }
  return pages;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
