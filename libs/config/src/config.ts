import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadClusterConfig, type ClusterConfig } from './cluster';
import { loadEventsConfig, type EventsConfig } from './events';
import { loadGcConfig, type GcConfig } from './gc';
import { parseDuration } from '@wharf/oci';

/**
 * One typed configuration object for every shape. Read from WHARF_* environment variables, with
 * an optional YAML file (WHARF_CONFIG) underneath them. A bad value stops the process with a
 * message that names the key.
 */
export interface WharfConfig {
  http: { host: string; port: number };
  /** WHARF_METRICS_ADDR: /metrics on a listener of its own; unset, the HTTP port serves /metrics. */
  metricsAddr?: { host: string; port: number };
  dataDir: string;
  logLevel: LogLevel;
  /** External Postgres; when absent the all-in-one runs its own embedded server. */
  databaseUrl?: string;
  databasePoolSize: number;
  databaseTimeoutMs: number;
  uploadTtlMs: number;
  /** Where the filesystem driver keeps blobs. */
  storageRoot: string;
  auth: AuthConfig;
  /** The gateway serves HTTPS with these PEM files (re-read when they change). */
  tls?: { certFile: string; keyFile: string };
  /** Old clients (PROTOCOL.md §3.4): the schema2 → signed schema1 rewrite and schema1 push. */
  schema1: Schema1Config;
  /** The distributed shape's services (NATS, internal ports, S3); see cluster.ts. */
  cluster: ClusterConfig;
  /** Registry events: webhooks and pull reporting (events.ts). */
  events: EventsConfig;
  /** Online garbage collection (gc.ts). */
  gc: GcConfig;
}

export type AuthMode = 'none' | 'basic' | 'token';
const AUTH_MODES: readonly AuthMode[] = ['none', 'basic', 'token'];

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

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export class ConfigError extends Error {
  constructor(key: string, problem: string) {
    super(`invalid configuration ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | undefined>;

/** `<n>ms|s|m|h` to milliseconds; the grammar lives in @wharf/oci, the key name here. */
export function parseDurationMs(key: string, value: string): number {
  try {
    return parseDuration(value.trim());
  } catch {
    throw new ConfigError(key, `"${value}" is not a duration like 500ms, 30s, 5m or 24h`);
  }
}

export function parseHostPort(key: string, value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new ConfigError(key, `"${value}" is not host:port (e.g. :5000 or 127.0.0.1:5000)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function parseBool(key: string, value: string): boolean {
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  throw new ConfigError(key, `"${value}" is not true or false`);
}

function parseInt(key: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new ConfigError(key, `"${value}" is not an integer >= ${min}`);
  return n;
}

/** Flattens `{ http: { addr } }` in the YAML file to WHARF_HTTP_ADDR so both sources share one reader. */
function yamlToEnv(file: string): Source {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError('WHARF_CONFIG', `cannot read ${file}: ${(e as Error).message}`);
  }
  const out: Source = {};
  const walk = (value: unknown, prefix: string): void => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value))
        walk(v, `${prefix}_${k.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`);
    } else if (value !== null && value !== undefined) {
      out[prefix] = Array.isArray(value) ? value.join(',') : String(value);
    }
  };
  walk(doc, 'WHARF');
  return out;
}

export function loadConfig(env: Source = process.env): WharfConfig {
  const src: Source = { ...(env.WHARF_CONFIG ? yamlToEnv(env.WHARF_CONFIG) : {}), ...env };
  const get = (key: string): string | undefined => {
    const v = src[key];
    return v === undefined || v === '' ? undefined : v;
  };
  const logLevel = (get('WHARF_LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError('WHARF_LOG_LEVEL', `"${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  const dataDir = resolve(get('WHARF_DATA_DIR') ?? './data');
  const tlsCert = get('WHARF_TLS_CERT');
  const tlsKey = get('WHARF_TLS_KEY');
  if (!tlsCert !== !tlsKey)
    throw new ConfigError(
      tlsCert ? 'WHARF_TLS_KEY' : 'WHARF_TLS_CERT',
      'WHARF_TLS_CERT and WHARF_TLS_KEY go together',
    );
  return {
    http: parseHostPort('WHARF_HTTP_ADDR', get('WHARF_HTTP_ADDR') ?? ':5000'),
    metricsAddr: get('WHARF_METRICS_ADDR')
      ? parseHostPort('WHARF_METRICS_ADDR', get('WHARF_METRICS_ADDR')!)
      : undefined,
    dataDir,
    logLevel,
    databaseUrl: get('WHARF_DATABASE_URL'),
    databasePoolSize: parseInt('WHARF_DATABASE_POOL_SIZE', get('WHARF_DATABASE_POOL_SIZE') ?? '20', 1),
    databaseTimeoutMs: parseDurationMs('WHARF_DATABASE_TIMEOUT', get('WHARF_DATABASE_TIMEOUT') ?? '30s'),
    uploadTtlMs: parseDurationMs('WHARF_UPLOAD_TTL', get('WHARF_UPLOAD_TTL') ?? '24h'),
    storageRoot: resolve(get('WHARF_STORAGE_ROOT') ?? `${dataDir}/blobs`),
    auth: loadAuthConfig(get, dataDir),
    tls: tlsCert && tlsKey ? { certFile: resolve(tlsCert), keyFile: resolve(tlsKey) } : undefined,
    schema1: loadSchema1Config(get),
    cluster: loadClusterConfig(get, { duration: parseDurationMs, bool: parseBool, int: parseInt }),
    events: loadEventsConfig(get),
    gc: loadGcConfig(get),
  };
}

function loadAuthConfig(get: (key: string) => string | undefined, dataDir: string): AuthConfig {
  const mode = (get('WHARF_AUTH_MODE') ?? 'none') as AuthMode;
  if (!AUTH_MODES.includes(mode))
    throw new ConfigError('WHARF_AUTH_MODE', `"${mode}" is not one of ${AUTH_MODES.join(', ')}`);
  const htpasswd = get('WHARF_AUTH_HTPASSWD');
  const policy = get('WHARF_AUTH_POLICY');
  // A policy or user file without a mode would look protected while serving everyone.
  if (mode === 'none' && (htpasswd || policy))
    throw new ConfigError(
      'WHARF_AUTH_MODE',
      `is none, so ${htpasswd ? 'WHARF_AUTH_HTPASSWD' : 'WHARF_AUTH_POLICY'} would have no effect; set basic or token`,
    );
  if (mode === 'basic' && !htpasswd)
    throw new ConfigError('WHARF_AUTH_HTPASSWD', 'is required when WHARF_AUTH_MODE=basic');
  const service = get('WHARF_AUTH_SERVICE') ?? 'wharf';
  if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(service))
    throw new ConfigError(
      'WHARF_AUTH_SERVICE',
      `"${service}" must be printable ASCII without spaces, quotes or backslashes`,
    );
  const realm = get('WHARF_AUTH_TOKEN_REALM');
  if (realm !== undefined && !/^https?:\/\/[\x21\x23-\x5b\x5d-\x7e]+$/.test(realm))
    throw new ConfigError('WHARF_AUTH_TOKEN_REALM', `"${realm}" is not an http(s) URL`);
  const issuer = get('WHARF_AUTH_TOKEN_ISSUER');
  const jwks = get('WHARF_AUTH_TOKEN_JWKS');
  const audience = get('WHARF_AUTH_TOKEN_AUDIENCE');
  if (!issuer !== !jwks)
    throw new ConfigError(
      issuer ? 'WHARF_AUTH_TOKEN_JWKS' : 'WHARF_AUTH_TOKEN_ISSUER',
      'WHARF_AUTH_TOKEN_ISSUER and WHARF_AUTH_TOKEN_JWKS go together',
    );
  if ((issuer || audience) && mode !== 'token')
    throw new ConfigError('WHARF_AUTH_TOKEN_ISSUER', 'external tokens need WHARF_AUTH_MODE=token');
  const tokenKey = get('WHARF_AUTH_TOKEN_KEY');
  const tokenTtlMs = parseDurationMs('WHARF_AUTH_TOKEN_TTL', get('WHARF_AUTH_TOKEN_TTL') ?? '5m');
  // Clients raise anything shorter to 60 s and would then send an expired token.
  if (tokenTtlMs < 60_000) throw new ConfigError('WHARF_AUTH_TOKEN_TTL', 'must be at least 60s');
  return {
    mode,
    service,
    htpasswdFile: htpasswd ? resolve(htpasswd) : undefined,
    policyFile: policy ? resolve(policy) : undefined,
    tokenRealm: realm,
    tokenKeyFile: resolve(tokenKey ?? `${dataDir}/keys/token-signing.pem`),
    tokenKeyGenerated: tokenKey === undefined,
    tokenTtlMs,
    refreshTokenTtlMs: parseDurationMs(
      'WHARF_AUTH_REFRESH_TOKEN_TTL',
      get('WHARF_AUTH_REFRESH_TOKEN_TTL') ?? '168h',
    ),
    external:
      issuer && jwks
        ? {
            issuer,
            audience: audience ?? service,
            jwks: /^https?:\/\//.test(jwks) ? jwks : resolve(jwks),
          }
        : undefined,
    groupsClaim: get('WHARF_AUTH_GROUPS_CLAIM'),
    failedLoginLimit: parseInt(
      'WHARF_AUTH_FAILED_LOGIN_LIMIT',
      get('WHARF_AUTH_FAILED_LOGIN_LIMIT') ?? '10',
      1,
    ),
    failedLoginWindowMs: parseDurationMs(
      'WHARF_AUTH_FAILED_LOGIN_WINDOW',
      get('WHARF_AUTH_FAILED_LOGIN_WINDOW') ?? '5m',
    ),
    trustForwardedFor: parseBool(
      'WHARF_AUTH_TRUST_FORWARDED_FOR',
      get('WHARF_AUTH_TRUST_FORWARDED_FOR') ?? 'false',
    ),
  };
}

export interface Schema1Config {
  /** PEM or JWK private key file; without it the all-in-one generates one in `<dataDir>/keys`. */
  signingKeyFile?: string;
  push: boolean;
  /** The manifest-list entry clients that do not accept lists get. */
  defaultPlatform: { os: string; architecture: string };
}

function loadSchema1Config(get: (key: string) => string | undefined): Schema1Config {
  const keyFile = get('WHARF_SCHEMA1_SIGNING_KEY');
  const platform = get('WHARF_SCHEMA1_DEFAULT_PLATFORM') ?? 'linux/amd64';
  const m = /^([a-z0-9][a-z0-9._-]*)\/([a-z0-9][a-z0-9._-]*)$/.exec(platform);
  if (!m) throw new ConfigError('WHARF_SCHEMA1_DEFAULT_PLATFORM', `"${platform}" is not os/architecture`);
  return {
    signingKeyFile: keyFile ? resolve(keyFile) : undefined,
    push: parseBool('WHARF_SCHEMA1_PUSH', get('WHARF_SCHEMA1_PUSH') ?? 'false'),
    defaultPlatform: { os: m[1], architecture: m[2] },
  };
}
