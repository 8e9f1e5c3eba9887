import type { IncomingMessage } from 'node:http';
import { Logger } from '@nestjs/common';
import type { AuthConfig } from '@wharf/config';
import { ANONYMOUS, Authorizer, type Caller } from './authorizer';
import { PasswordVerifier, parseHtpasswd, passwordFingerprint, type HtpasswdFile } from './htpasswd';
import { LoginLimiter } from './login-limiter';
import { parsePolicy, type Policy } from './policy';
import { loadSigningKey, type SigningKey } from './signing-key';
import { INTERNAL_ISSUER, TokenIssuer, TokenVerifier, externalKeys, type VerifiedToken } from './tokens';
import { WatchedFile } from '@wharf/config';

/** Injection token for the gateway's auth configuration (absent: access control off). */
export const AUTH_CONFIG = Symbol('AUTH_CONFIG');

export type LoginResult = { ok: true; caller: Caller } | { ok: false; retryAfter: number };

/**
 * Everything access control holds for the life of the process: the watched policy and htpasswd
 * files, the failed-login limiter, the token key, issuer and verifier. Built once at start, where a
 * bad file or key stops the process; the guard and the token endpoint share it.
 */
export class AuthRuntime {
  private readonly log = new Logger('Auth');
  private readonly passwords = new PasswordVerifier();
  private readonly limiter: LoginLimiter;

  private constructor(
    readonly config: AuthConfig,
    private readonly policyFile?: WatchedFile<Policy>,
    private readonly htpasswdFile?: WatchedFile<HtpasswdFile>,
    readonly signingKey?: SigningKey,
    readonly issuer?: TokenIssuer,
    private readonly verifier?: TokenVerifier,
  ) {
    this.limiter = new LoginLimiter(config.failedLoginLimit, config.failedLoginWindowMs);
  }

  static disabled(): AuthRuntime {
    return new AuthRuntime({ mode: 'none' } as AuthConfig);
  }

  static async create(config: AuthConfig | undefined): Promise<AuthRuntime> {
    if (!config || config.mode === 'none') return AuthRuntime.disabled();
    const log = new Logger('Auth');
    const reloadError = (what: string) => (e: Error) =>
      log.error(`${what} changed but cannot be used, keeping the previous version: ${e.message}`);
    const load = async <T>(
      file: string,
      what: string,
      parse: (text: string) => T,
      summary: (v: T) => string,
    ) => {
      try {
        return await WatchedFile.load(file, parse, {
          onError: reloadError(what),
          onReload: (v) => log.log(`${what} ${file} reloaded: ${summary(v)}`),
        });
      } catch (e) {
        throw new Error(`${what}: ${(e as Error).message}`);
      }
    };
    const policy = config.policyFile
      ? await load(
          config.policyFile,
          'WHARF_AUTH_POLICY',
          (t) => parsePolicy(t, config.policyFile!),
          (p) => `${p.ruleCount} rule${p.ruleCount === 1 ? '' : 's'}`,
        )
      : undefined;
    const htpasswd = config.htpasswdFile
      ? await load(
          config.htpasswdFile,
          'WHARF_AUTH_HTPASSWD',
          (t) => parseHtpasswd(t, config.htpasswdFile!),
          (f) => `${f.users.size} user${f.users.size === 1 ? '' : 's'}`,
        )
      : undefined;
    if (config.mode !== 'token') return new AuthRuntime(config, policy, htpasswd);

    const key = await loadSigningKey(config.tokenKeyFile, config.tokenKeyGenerated);
    const ext = config.external;
    if (ext?.issuer === INTERNAL_ISSUER)
      throw new Error(
        `WHARF_AUTH_TOKEN_ISSUER: "${INTERNAL_ISSUER}" is the built-in token service's own issuer`,
      );
    const verifier = new TokenVerifier(
      key,
      config.service,
      ext && {
        issuer: ext.issuer,
        audience: ext.audience,
        keys: await externalKeys(ext.jwks, reloadError('WHARF_AUTH_TOKEN_JWKS')).catch((e: Error) => {
          throw new Error(`WHARF_AUTH_TOKEN_JWKS: ${e.message}`);
        }),
        groupsClaim: config.groupsClaim,
      },
    );
    const issuer = new TokenIssuer(key, config.service, config.tokenTtlMs, config.refreshTokenTtlMs);
    // A generated key is worth a line of its own: it is what to back up, or to copy to other replicas.
    log.log(
      `token service ready (${key.alg}, kid ${key.kid}, ${key.generated ? 'generated new key' : 'key'} ${config.tokenKeyFile})`,
    );
    return new AuthRuntime(config, policy, htpasswd, key, issuer, verifier);
  }

  get enabled(): boolean {
    return this.config.mode !== 'none';
  }

  async authorizer(): Promise<Authorizer> {
    return new Authorizer(await this.policyFile?.get());
  }

  /** Groups the policy gives a user of Wharf's own (htpasswd or self-issued token). */
  async groupsOf(user: string): Promise<string[]> {
    return (await this.policyFile?.get())?.groupsOf(user) ?? [];
  }

  /**
   * The address failed logins are counted against. X-Forwarded-For is spoofable, so it is only
   * used when configured, and then its last hop: the one the trusted proxy appended itself.
   */
  clientAddress(req: IncomingMessage): string {
    if (this.config.trustForwardedFor) {
      const hops = String(req.headers['x-forwarded-for'] ?? '')
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean);
      if (hops.length) return hops[hops.length - 1];
    }
    return req.socket.remoteAddress ?? 'unknown';
  }

  /** A username/password check, rate limited per client address and per user. */
  async login(address: string, user: string, password: string): Promise<LoginResult> {
    const keys = [`addr:${address}`, `user:${user.slice(0, 256)}`];
    const retryAfter = this.limiter.retryAfter(keys);
    if (retryAfter) return { ok: false, retryAfter };
    const file = (await this.htpasswdFile?.get()) ?? { users: new Map(), cost: 10 };
    if (await this.passwords.verify(file, user, password))
      return { ok: true, caller: { subject: user, groups: await this.groupsOf(user) } };
    this.limiter.recordFailure(keys);
    // The name only when it is a real user: people type passwords into the user field.
    this.log.warn(
      `failed login from ${address} for ${file.users.has(user) ? `user ${user}` : 'an unknown user'}`,
    );
    return { ok: false, retryAfter: 0 };
  }

  /** Only a failed login counts: a malformed header is a broken client, not a guess. */
  async loginBasic(req: IncomingMessage, header: string): Promise<LoginResult | undefined> {
    const creds = parseBasic(header);
    if (!creds || creds.user === '') return undefined;
    return this.login(this.clientAddress(req), creds.user, creds.password);
  }

  /** The fingerprint of a user's current password, or undefined when the user is gone. */
  async currentPassword(user: string): Promise<string | undefined> {
    const hash = (await this.htpasswdFile?.get())?.users.get(user);
    return hash === undefined ? undefined : passwordFingerprint(hash);
  }

  /** The caller a verified bearer token stands for; undefined when the token is not valid. */
  async bearer(token: string): Promise<Caller | undefined> {
    const verified: VerifiedToken | undefined = await this.verifier?.verify(token);
    if (!verified) return undefined;
    if (verified.subject === null) return { ...ANONYMOUS, token: verified };
    const groups = verified.external ? verified.groups : await this.groupsOf(verified.subject);
    return { subject: verified.subject, groups, token: verified };
  }
}

/** `Basic base64(user:password)`, split at the first colon. */
export function parseBasic(header: string): { user: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * containers/image answers a Basic challenge with an empty user and password when it has no
 * credentials; that is an anonymous request, not a failed login.
 */
export function isAnonymousBasic(header: string): boolean {
  const creds = parseBasic(header);
  return creds !== undefined && creds.user === '' && creds.password === '';
}

export function parseBearer(header: string): string | undefined {
  const m = /^Bearer\s+([A-Za-z0-9\-_.~+/]+=*)\s*$/i.exec(header);
  return m?.[1];
}
