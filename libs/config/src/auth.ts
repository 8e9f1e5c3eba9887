import { join } from 'node:path';
import { ConfigError } from './errors';
import type { AuthMode } from './keys';
import type { Settings } from './settings';

export interface AuthConfig {
  mode: AuthMode;
  /** Token audience and service name in challenges; also the Basic realm. */
  service: string;
  htpasswdFile?: string;
  policyFile?: string;
  /** Realm URL in Bearer challenges; by default built from the request plus /auth/token. */
  tokenRealm?: string;
  /** PEM private key (RSA, EC P-256 or Ed25519) the token service signs with. */
  tokenKeyFile: string;
  /** WHARF_AUTH_TOKEN_KEY was not given: the key is generated once at tokenKeyFile and kept. */
  tokenKeyGenerated: boolean;
  tokenTtlMs: number;
  refreshTokenTtlMs: number;
  /** Tokens from an external issuer, verified against its JWKS (a URL or a file). */
  external?: { issuer: string; audience: string; jwks: string };
  groupsClaim?: string;
  failedLoginLimit: number;
  failedLoginWindowMs: number;
  /** Rate-limit by the last X-Forwarded-For hop (only behind a proxy that sets it). */
  trustForwardedFor: boolean;
}

export function loadAuthConfig(s: Settings, dataDir: string): AuthConfig {
  const mode = s.get('WHARF_AUTH_MODE');
  const htpasswdFile = s.get('WHARF_AUTH_HTPASSWD');
  const policyFile = s.get('WHARF_AUTH_POLICY');
  // A policy or user file without a mode would look protected while serving everyone.
  if (mode === 'none' && (htpasswdFile || policyFile))
    throw new ConfigError(
      'WHARF_AUTH_MODE',
      `is none, so ${htpasswdFile ? 'WHARF_AUTH_HTPASSWD' : 'WHARF_AUTH_POLICY'} would have no effect; set basic or token`,
    );
  if (mode === 'basic' && !htpasswdFile)
    throw new ConfigError('WHARF_AUTH_HTPASSWD', 'is required when WHARF_AUTH_MODE=basic');
  const service = s.get('WHARF_AUTH_SERVICE');
  const tokenRealm = s.get('WHARF_AUTH_TOKEN_REALM');
  s.together('WHARF_AUTH_TOKEN_ISSUER', 'WHARF_AUTH_TOKEN_JWKS');
  const issuer = s.get('WHARF_AUTH_TOKEN_ISSUER');
  const audience = s.get('WHARF_AUTH_TOKEN_AUDIENCE');
  if ((issuer || audience) && mode !== 'token')
    throw new ConfigError('WHARF_AUTH_TOKEN_ISSUER', 'external tokens need WHARF_AUTH_MODE=token');
  const jwks = s.get('WHARF_AUTH_TOKEN_JWKS');
  const tokenKey = s.get('WHARF_AUTH_TOKEN_KEY');
  return {
    mode,
    service,
    htpasswdFile,
    policyFile,
    tokenRealm,
    tokenKeyFile: tokenKey ?? join(dataDir, 'keys', 'token-signing.pem'),
    tokenKeyGenerated: tokenKey === undefined,
    tokenTtlMs: s.get('WHARF_AUTH_TOKEN_TTL'),
    refreshTokenTtlMs: s.get('WHARF_AUTH_REFRESH_TOKEN_TTL'),
    external: issuer && jwks ? { issuer, audience: audience ?? service, jwks } : undefined,
    groupsClaim: s.get('WHARF_AUTH_GROUPS_CLAIM'),
    failedLoginLimit: s.get('WHARF_AUTH_FAILED_LOGIN_LIMIT'),
    failedLoginWindowMs: s.get('WHARF_AUTH_FAILED_LOGIN_WINDOW'),
    trustForwardedFor: s.get('WHARF_AUTH_TRUST_FORWARDED_FOR'),
  };
}
