import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

/**
 * One typed configuration object for every shape. Read from WHARF_* environment variables, with
 * an optional YAML file (WHARF_CONFIG) underneath them. A bad value stops the process with a
 * message that names the key.
 */
export interface WharfConfig {
  http: { host: string; port: number };
  dataDir: string;
  logLevel: LogLevel;
  /** External Postgres; when absent the all-in-one runs its own embedded server. */
  databaseUrl?: string;
  databasePoolSize: number;
  databaseTimeoutMs: number;
  uploadTtlMs: number;
  /** Where the filesystem driver keeps blobs. */
  storageRoot: string;
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

/** `<n>ms|s|m|h` to milliseconds. */
export function parseDurationMs(key: string, value: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(value.trim());
  if (!m) throw new ConfigError(key, `"${value}" is not a duration like 500ms, 30s, 5m or 24h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

export function parseHostPort(key: string, value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new ConfigError(key, `"${value}" is not host:port (e.g. :5000 or 127.0.0.1:5000)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
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
  return {
    http: parseHostPort('WHARF_HTTP_ADDR', get('WHARF_HTTP_ADDR') ?? ':5000'),
    dataDir,
    logLevel,
    databaseUrl: get('WHARF_DATABASE_URL'),
    databasePoolSize: parseInt('WHARF_DATABASE_POOL_SIZE', get('WHARF_DATABASE_POOL_SIZE') ?? '20', 1),
    databaseTimeoutMs: parseDurationMs('WHARF_DATABASE_TIMEOUT', get('WHARF_DATABASE_TIMEOUT') ?? '30s'),
    uploadTtlMs: parseDurationMs('WHARF_UPLOAD_TTL', get('WHARF_UPLOAD_TTL') ?? '24h'),
    storageRoot: resolve(get('WHARF_STORAGE_ROOT') ?? `${dataDir}/blobs`),
  };
}
