import { X509Certificate, createPublicKey, randomBytes } from 'node:crypto';
import {
  SignJWT,
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type KeyLike,
} from 'jose';
import type { AccessEntry } from './access';
import { SIGNING_ALGS, type SigningKey } from './signing-key';
import { WatchedFile } from '@wharf/config';

/** `iss` of the tokens Wharf's own token service issues; refresh tokens get their own. */
export const INTERNAL_ISSUER = 'wharf-token-service';
const REFRESH_ISSUER = `${INTERNAL_ISSUER}/refresh`;
/** Clock skew tolerated on exp/nbf, as in Distribution. */
export const LEEWAY_SECONDS = 60;

export interface VerifiedToken {
  /** `sub`, or null for an anonymous token. */
  subject: string | null;
  access: AccessEntry[];
  /** Issued by the external issuer (its `access` is not Wharf's own policy decision). */
  external: boolean;
  /** From WHARF_AUTH_GROUPS_CLAIM, external tokens only. */
  groups: string[];
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: string;
}

export class TokenIssuer {
  constructor(
    private readonly key: SigningKey,
    private readonly service: string,
    private readonly ttlMs: number,
    private readonly refreshTtlMs: number,
  ) {}

  async accessToken(subject: string | null, access: AccessEntry[]): Promise<IssuedToken> {
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = Math.floor(this.ttlMs / 1000);
    const jwt = new SignJWT({ access })
      .setProtectedHeader({ alg: this.key.alg, kid: this.key.kid, typ: 'JWT' })
      .setIssuer(INTERNAL_ISSUER)
      .setAudience(this.service)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + expiresIn)
      .setJti(randomBytes(16).toString('base64url'));
    if (subject !== null) jwt.setSubject(subject);
    return {
      token: await jwt.sign(this.key.privateKey),
      expiresIn,
      issuedAt: new Date(now * 1000).toISOString(),
    };
  }

  /**
   * A long-lived token that only the token service accepts, bound to the user and to the password
   * they have now (`pwd`, a fingerprint of the stored hash): a password change or removal from the
   * htpasswd file revokes it.
   */
  async refreshToken(subject: string, passwordFingerprint: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ pwd: passwordFingerprint })
      .setProtectedHeader({ alg: this.key.alg, kid: this.key.kid, typ: 'JWT' })
      .setIssuer(REFRESH_ISSUER)
      .setAudience(this.service)
      .setSubject(subject)
      .setIssuedAt(now)
      .setExpirationTime(now + Math.floor(this.refreshTtlMs / 1000))
      .setJti(randomBytes(16).toString('base64url'))
      .sign(this.key.privateKey);
  }

  async verifyRefresh(token: string): Promise<{ subject: string; passwordFingerprint: string } | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.key.publicKey, {
        algorithms: [this.key.alg],
        issuer: REFRESH_ISSUER,
        audience: this.service,
        clockTolerance: LEEWAY_SECONDS,
        requiredClaims: ['exp', 'sub'],
      });
      if (typeof payload.pwd !== 'string' || !payload.sub) return undefined;
      return { subject: payload.sub, passwordFingerprint: payload.pwd };
    } catch {
      return undefined;
    }
  }
}

export interface ExternalIssuer {
  issuer: string;
  audience: string;
  keys: JWTVerifyGetKey | KeyLike;
  groupsClaim?: string;
}

/**
 * Verifies bearer tokens: Wharf's own (signed with its key) and, when configured, an external
 * issuer's. The unverified `iss` only chooses which key and rules apply; the signature, issuer,
 * audience, exp and nbf are all checked by jose with an allow-list of asymmetric algorithms.
 */
export class TokenVerifier {
  constructor(
    private readonly own: SigningKey,
    private readonly service: string,
    private readonly external?: ExternalIssuer,
  ) {}

  async verify(token: string): Promise<VerifiedToken | undefined> {
    let iss: string | undefined;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return undefined;
    }
    try {
      if (iss === INTERNAL_ISSUER) {
        const { payload } = await jwtVerify(token, this.own.publicKey, {
          algorithms: [this.own.alg],
          issuer: INTERNAL_ISSUER,
          audience: this.service,
          clockTolerance: LEEWAY_SECONDS,
          requiredClaims: ['exp'],
        });
        return toVerified(payload, false, undefined);
      }
      const ext = this.external;
      if (ext && iss === ext.issuer) {
        const options = {
          algorithms: SIGNING_ALGS,
          issuer: ext.issuer,
          audience: ext.audience,
          clockTolerance: LEEWAY_SECONDS,
          requiredClaims: ['exp'],
        };
        const { payload } =
          typeof ext.keys === 'function'
            ? await jwtVerify(token, ext.keys, options)
            : await jwtVerify(token, ext.keys, options);
        return toVerified(payload, true, ext.groupsClaim);
      }
    } catch {
      // Bad signature, algorithm, issuer, audience or time: all the same to the caller.
    }
    return undefined;
  }
}

function toVerified(
  payload: JWTPayload,
  external: boolean,
  groupsClaim: string | undefined,
): VerifiedToken | undefined {
  const access = parseAccessClaim(payload.access);
  if (!access) return undefined;
  const groups = groupsClaim === undefined ? undefined : payload[groupsClaim];
  return {
    subject: typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : null,
    access,
    external,
    groups: Array.isArray(groups)
      ? groups.filter((g): g is string => typeof g === 'string')
      : typeof groups === 'string'
        ? [groups]
        : [],
  };
}

/** The `access` claim; absent means no access, anything malformed rejects the whole token. */
export function parseAccessClaim(value: unknown): AccessEntry[] | undefined {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return undefined;
  const out: AccessEntry[] = [];
  for (const e of value) {
    if (!e || typeof e !== 'object') return undefined;
    const { type, name, actions } = e as Record<string, unknown>;
    if (typeof type !== 'string' || typeof name !== 'string') return undefined;
    if (actions !== undefined && actions !== null && !Array.isArray(actions)) return undefined;
    const list = (actions ?? []) as unknown[];
    if (!list.every((a) => typeof a === 'string')) return undefined;
    out.push({ type, name, actions: list as string[] });
  }
  return out;
}

/**
 * The external issuer's keys: a JWKS URL (fetched and cached by jose, refetched for an unknown
 * `kid`) or a file holding a JWKS, a PEM public key or a certificate (re-read when it changes).
 */
export async function externalKeys(
  jwks: string,
  onError: (e: Error) => void,
): Promise<JWTVerifyGetKey | KeyLike> {
  if (/^https?:\/\//.test(jwks)) return createRemoteJWKSet(new URL(jwks));
  const file = await WatchedFile.load(jwks, parseKeyFile, { onError, intervalMs: 5000 });
  return async (header, token) => {
    const keys = await file.get();
    return typeof keys === 'function' ? keys(header, token) : keys;
  };
}

function parseKeyFile(text: string): JWTVerifyGetKey | KeyLike {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const set = JSON.parse(trimmed) as JSONWebKeySet;
    if (!Array.isArray(set.keys)) throw new Error('a JWKS file needs a "keys" array');
    return createLocalJWKSet(set);
  }
  if (trimmed.includes('BEGIN CERTIFICATE')) return new X509Certificate(trimmed).publicKey;
  return createPublicKey(trimmed);
}
