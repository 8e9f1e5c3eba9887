import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import {
  MANIFEST_MEDIA_TYPES,
  SCHEMA1_MEDIA_TYPES,
  digestOf,
  isDigest,
  isSupportedDigestAlgorithm,
  isValidRepositoryName,
  parseDigest,
  sha256,
} from '@wharf/oci';
import type { UpstreamConfig } from './proxy-config';
import { HttpTransport, contentLength } from './upstream-http';

export { UpstreamError, type UpstreamFailure } from './upstream-http';

export interface UpstreamManifest {
  digest: string;
  mediaType: string;
  body: Buffer;
}

export interface UpstreamClientOptions {
  /** Connect + response headers, per request (token requests included). Default 30 s. */
  timeoutMs?: number;
  /** How long a blob body may send nothing while its reader waits. Default: timeoutMs. */
  idleTimeoutMs?: number;
  /** Manifest body cap. Default 4 MiB, as Distribution's. */
  maxManifestBytes?: number;
  /** Clock for token expiry. */
  now?: () => number;
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MANIFEST_ACCEPT = [...MANIFEST_MEDIA_TYPES, ...SCHEMA1_MEDIA_TYPES].join(', ');
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_TOKEN_SECONDS = 60;
const TOKEN_MARGIN_MS = 10_000;
const MAX_CACHED_TOKENS = 1_000;

type Scheme = { kind: 'basic' } | { kind: 'bearer'; realm: string; service?: string };
interface Token {
  token: string;
  expiresAt: number;
}

/**
 * Reads one upstream registry over the distribution API: anonymous, Basic or Bearer (token) auth,
 * redirects, caps and timeouts. Every failure is an UpstreamError; bodies of blobs are streamed.
 * `path` is the repository as the upstream names it (defaultNamespace already applied).
 */
export class UpstreamClient {
  private readonly http: HttpTransport;
  private readonly base: string;
  private readonly origin: string;
  private readonly idleMs: number;
  private readonly maxManifest: number;
  private readonly now: () => number;
  /** Learnt from the first challenge, so later requests authenticate up front. */
  private scheme: Scheme | undefined;
  /** Per (realm, service, scope); a pending fetch is shared by concurrent requests. */
  private readonly tokens = new Map<string, Promise<Token>>();

  constructor(
    private readonly cfg: UpstreamConfig,
    opts: UpstreamClientOptions = {},
  ) {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.http = new HttpTransport(cfg.name, timeoutMs);
    this.base = cfg.url.replace(/\/+$/, '');
    this.origin = new URL(this.base).origin;
    this.idleMs = opts.idleTimeoutMs ?? timeoutMs;
    this.maxManifest = opts.maxManifestBytes ?? MAX_MANIFEST_BYTES;
    this.now = opts.now ?? Date.now;
  }

  get name(): string {
    return this.cfg.name;
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.http.close();
  }

  /** `digest` from Docker-Content-Digest, undefined when the upstream does not send one; size -1 when unknown. */
  async headManifest(
    path: string,
    reference: string,
  ): Promise<{ digest?: string; mediaType: string; size: number }> {
    const res = await this.send('HEAD', path, `manifests/${checkReference(reference)}`, MANIFEST_ACCEPT);
    res.resume();
    const header = res.headers['docker-content-digest'];
    const digest = typeof header === 'string' && isDigest(header.trim()) ? header.trim() : undefined;
    return { digest, mediaType: bareType(res.headers['content-type']), size: contentLength(res) };
  }

  /**
   * The manifest as the upstream serves it, capped. By digest, the body must hash to it, else
   * 'corrupt'. Schema1 signed manifests are the exception: their digest covers the payload without
   * its signatures, which is not this body's hash, so they are passed on unchecked.
   */
  async getManifest(path: string, reference: string): Promise<UpstreamManifest> {
    const res = await this.send('GET', path, `manifests/${checkReference(reference)}`, MANIFEST_ACCEPT);
    const body = await this.http.readCapped(res, this.maxManifest, `manifest ${path}:${reference}`);
    const mediaType = bareType(res.headers['content-type']) || typeInBody(body);
    const digest = sha256(body);
    const wanted = parseDigest(reference);
    if (wanted && isSupportedDigestAlgorithm(wanted.algorithm) && !SCHEMA1_MEDIA_TYPES.includes(mediaType)) {
      const actual = wanted.algorithm === 'sha256' ? digest : digestOf(body, wanted.algorithm);
      if (actual !== reference)
        throw this.http.error('corrupt', `manifest ${path}@${reference} arrived with digest ${actual}`);
    }
    return { digest, mediaType, body };
  }

  /** size -1 when the upstream sends no Content-Length. */
  async headBlob(path: string, digest: string): Promise<{ size: number }> {
    const res = await this.send('HEAD', path, `blobs/${checkDigest(digest)}`);
    res.resume();
    return { size: contentLength(res) };
  }

  /**
   * The blob as a stream: it errors (UpstreamError 'unavailable') when the upstream stalls for the
   * idle timeout or the body ends short of Content-Length. size -1 when there is no Content-Length.
   * The caller verifies the digest while storing; destroying `body` releases the connection.
   */
  async getBlob(path: string, digest: string): Promise<{ size: number; body: Readable }> {
    const res = await this.send('GET', path, `blobs/${checkDigest(digest)}`);
    const size = contentLength(res);
    return { size, body: this.http.guardBody(res, this.idleMs, size) };
  }

  /** A 2xx response (after redirects and at most one authentication round), or an UpstreamError. */
  private async send(
    method: 'GET' | 'HEAD',
    path: string,
    tail: string,
    accept?: string,
  ): Promise<IncomingMessage> {
    if (!isValidRepositoryName(path)) throw new Error(`"${path}" is not a repository path`);
    const url = new URL(`${this.base}/v2/${path}/${tail}`);
    const scope = `repository:${path}:pull`;
    const headers: Record<string, string> = accept ? { accept } : {};
    let authorization = await this.upfront(scope);
    for (let round = 0; ; round++) {
      const { res, url: last } = await this.http.follow(method, url, headers, authorization, this.origin);
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return res;
      const detail = await this.http.errorDetail(res);
      if (status === 401 && round === 0 && last.origin === this.origin) {
        const next = await this.answer(res, scope, authorization !== undefined);
        if (next !== undefined) {
          authorization = next;
          continue;
        }
      }
      throw this.http.failure(res, detail);
    }
  }

  private async upfront(scope: string): Promise<string | undefined> {
    if (this.scheme?.kind === 'basic') return this.basic();
    if (this.scheme?.kind === 'bearer') return `Bearer ${await this.token(this.scheme, scope, false)}`;
    return undefined;
  }

  /** The Authorization that answers a 401's challenge, or undefined when there is none to try. */
  private async answer(res: IncomingMessage, scope: string, sentAuth: boolean): Promise<string | undefined> {
    const challenges = (res.headersDistinct['www-authenticate'] ?? []).map(parseChallenge);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      let realm: URL;
      try {
        realm = new URL(bearer.params.realm);
      } catch {
        return undefined;
      }
      if (realm.protocol !== 'http:' && realm.protocol !== 'https:') return undefined;
      this.scheme = { kind: 'bearer', realm: realm.href, service: bearer.params.service };
      // A token that was sent and refused is not asked for from the cache again.
      return `Bearer ${await this.token(this.scheme, scope, sentAuth)}`;
    }
    if (challenges.some((c) => c.scheme === 'basic') && this.cfg.username !== undefined) {
      if (this.scheme?.kind === 'basic' && sentAuth) return undefined;
      this.scheme = { kind: 'basic' };
      return this.basic();
    }
    return undefined;
  }

  private basic(): string | undefined {
    if (this.cfg.username === undefined) return undefined;
    return `Basic ${Buffer.from(`${this.cfg.username}:${this.cfg.password ?? ''}`).toString('base64')}`;
  }

  private async token(
    scheme: { realm: string; service?: string },
    scope: string,
    fresh: boolean,
  ): Promise<string> {
    const key = JSON.stringify([scheme.realm, scheme.service ?? '', scope]);
    const cached = this.tokens.get(key);
    if (cached && !fresh) {
      const t = await cached.catch(() => undefined);
      if (t && t.expiresAt > this.now()) return t.token;
    }
    if (this.tokens.size >= MAX_CACHED_TOKENS) this.tokens.clear();
    const pending = this.fetchToken(scheme, scope);
    this.tokens.set(key, pending);
    pending.catch(() => {
      if (this.tokens.get(key) === pending) this.tokens.delete(key);
    });
    return (await pending).token;
  }

  private async fetchToken(scheme: { realm: string; service?: string }, scope: string): Promise<Token> {
    const url = new URL(scheme.realm);
    if (scheme.service !== undefined) url.searchParams.set('service', scheme.service);
    url.searchParams.set('scope', scope);
    const realm = url.origin;
    const { res } = await this.http.follow('GET', url, { accept: 'application/json' }, this.basic(), realm);
    if (res.statusCode !== 200)
      throw this.http.failure(res, await this.http.errorDetail(res), `token request to ${realm}: `);
    const body = await this.http.readCapped(res, 256 * 1024, `token response from ${realm}`);
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw this.http.error('unavailable', `token response from ${realm} is not JSON`);
    }
    const token = [parsed.token, parsed.access_token].find((t) => typeof t === 'string' && t !== '');
    if (typeof token !== 'string')
      throw this.http.error('unavailable', `token response from ${realm} holds no token`);
    const seconds =
      typeof parsed.expires_in === 'number' && parsed.expires_in > 0
        ? parsed.expires_in
        : DEFAULT_TOKEN_SECONDS;
    // Short-lived tokens keep half their life, so a token is never used right at its end.
    const margin = Math.min(TOKEN_MARGIN_MS, (seconds * 1000) / 2);
    return { token, expiresAt: this.now() + seconds * 1000 - margin };
  }
}

/** `Bearer realm="…",service="…"` (auth-param values quoted or not) to its scheme and params. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s*(.*)$/s.exec(header);
  const params: Record<string, string> = {};
  if (!m) return { scheme: '', params };
  for (const p of m[2].matchAll(/([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))/g))
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return { scheme: m[1].toLowerCase(), params };
}

function bareType(value: string | undefined): string {
  return (value ?? '').split(';')[0].trim();
}

/** For an upstream that sends no Content-Type: the manifest's own mediaType field, if any. */
function typeInBody(body: Buffer): string {
  try {
    const mt = (JSON.parse(body.toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof mt === 'string' ? mt : '';
  } catch {
    return '';
  }
}

function checkReference(reference: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._:+=-]*$/.test(reference))
    throw new Error(`"${reference}" is not a reference`);
  return reference;
}

function checkDigest(digest: string): string {
  if (!isDigest(digest)) throw new Error(`"${digest}" is not a digest`);
  return digest;
}
