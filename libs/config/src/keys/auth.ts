import { ConfigError } from '../errors';
import * as p from '../parsers';
import type { KeyTable } from './spec';

export const AUTH_MODES = ['none', 'basic', 'token'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** It goes into challenge headers as a quoted string, so nothing that would end or escape the quotes. */
const serviceName: p.Parser<string> = (key, value) => {
  if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(value))
    throw new ConfigError(key, `"${value}" must be printable ASCII without spaces, quotes or backslashes`);
  return value;
};

const realmUrl: p.Parser<string> = (key, value) => {
  if (!/^https?:\/\/[\x21\x23-\x5b\x5d-\x7e]+$/.test(value))
    throw new ConfigError(key, `"${value}" is not an http(s) URL`);
  return value;
};

/** The README's access control table. */
export const AUTH_KEYS = {
  WHARF_AUTH_MODE: {
    parse: p.oneOf(AUTH_MODES),
    default: 'none',
    doc: '`none`, `basic` or `token`',
  },
  WHARF_AUTH_HTPASSWD: {
    parse: p.path,
    defaultDoc: 'unset (required for `basic`)',
    doc: 'htpasswd file, bcrypt entries only (`htpasswd -B`; any other hash stops the start); re-read when it changes',
  },
  WHARF_AUTH_POLICY: {
    parse: p.path,
    doc: 'policy file (below); validated at start, re-read when it changes',
  },
  WHARF_AUTH_SERVICE: {
    parse: serviceName,
    default: 'wharf',
    doc: '`service` in challenges and the token audience; also the Basic realm',
  },
  WHARF_AUTH_TOKEN_REALM: {
    parse: realmUrl,
    defaultDoc: '`<scheme>://<host>/auth/token`',
    doc: 'realm URL in Bearer challenges; by default from `X-Forwarded-Proto`/`X-Forwarded-Host` or `Host`',
  },
  WHARF_AUTH_TOKEN_KEY: {
    parse: p.path,
    defaultDoc: '`<data dir>/keys/token-signing.pem`',
    doc: 'PEM private key (RSA ≥ 2048, EC P-256 or Ed25519) the token service signs with; generated (ES256, 0600) when unset',
    services: 'gateway',
    distributed: {
      default: 'required in `token` mode',
      doc: 'one token-signing key for every gateway replica',
    },
  },
  WHARF_AUTH_TOKEN_TTL: {
    // Clients raise anything shorter to 60 s and would then send an expired token.
    parse: p.durationAtLeast('60s'),
    default: '5m',
    doc: 'access token lifetime (at least `60s`)',
  },
  WHARF_AUTH_REFRESH_TOKEN_TTL: {
    parse: p.parseDurationMs,
    default: '168h',
    doc: 'refresh token lifetime (`offline_token=true`, `access_type=offline`)',
  },
  WHARF_AUTH_TOKEN_ISSUER: {
    parse: p.text,
    doc: '`iss` of an external token issuer (token mode)',
  },
  WHARF_AUTH_TOKEN_AUDIENCE: {
    parse: p.text,
    defaultDoc: '`WHARF_AUTH_SERVICE`',
    doc: '`aud` external tokens must carry',
  },
  WHARF_AUTH_TOKEN_JWKS: {
    parse: p.urlOrPath,
    doc: "the issuer's keys: a JWKS URL, or a file with a JWKS, a PEM public key or a certificate",
  },
  WHARF_AUTH_GROUPS_CLAIM: {
    parse: p.text,
    doc: "claim of external tokens holding the caller's groups (a string or a list)",
  },
  WHARF_AUTH_FAILED_LOGIN_LIMIT: {
    parse: p.int(1),
    default: '10',
    doc: 'failed logins per client address and per user name before 429 `TOOMANYREQUESTS`',
  },
  WHARF_AUTH_FAILED_LOGIN_WINDOW: {
    parse: p.parseDurationMs,
    default: '5m',
    doc: 'the window those failures are counted in; `Retry-After` says when it ends',
  },
  WHARF_AUTH_TRUST_FORWARDED_FOR: {
    parse: p.bool,
    default: 'false',
    doc: 'count failures by the last `X-Forwarded-For` hop (only behind a proxy that sets it)',
  },
  WHARF_TLS_CERT: {
    parse: p.path,
    doc: 'PEM certificate chain, with `WHARF_TLS_KEY`: the gateway serves HTTPS itself, reloading both when they change',
  },
  WHARF_TLS_KEY: {
    parse: p.path,
    doc: 'PEM private key of `WHARF_TLS_CERT`',
  },
} satisfies KeyTable;
