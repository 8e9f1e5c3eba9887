import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config';
import { ConfigError } from './errors';
import { parseDurationMs, parseHostPort } from './parsers';

describe('config', () => {
  it('defaults to :5000, ./data, info and a 24h upload TTL', () => {
    const c = loadConfig({});
    expect(c.http).toEqual({ host: '0.0.0.0', port: 5000 });
    expect(c.dataDir).toBe(`${process.cwd()}/data`);
    expect(c.logLevel).toBe('info');
    expect(c.uploadTtlMs).toBe(24 * 3600 * 1000);
    expect(c.databaseUrl).toBeUndefined();
  });

  it('reads WHARF_HTTP_ADDR, WHARF_DATA_DIR and WHARF_LOG_LEVEL', () => {
    const c = loadConfig({
      WHARF_HTTP_ADDR: '127.0.0.1:8080',
      WHARF_DATA_DIR: '/tmp/x',
      WHARF_LOG_LEVEL: 'debug',
    });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(c.dataDir).toBe('/tmp/x');
    expect(c.storageRoot).toBe('/tmp/x/blobs');
    expect(c.logLevel).toBe('debug');
  });

  it('names the key of a bad value', () => {
    expect(() => loadConfig({ WHARF_UPLOAD_TTL: '3 days' })).toThrow(/WHARF_UPLOAD_TTL/);
    expect(() => loadConfig({ WHARF_HTTP_ADDR: 'nope' })).toThrow(ConfigError);
    expect(() => loadConfig({ WHARF_LOG_LEVEL: 'loud' })).toThrow(/WHARF_LOG_LEVEL/);
    expect(() => loadConfig({ WHARF_DATABASE_POOL_SIZE: '0' })).toThrow(/WHARF_DATABASE_POOL_SIZE/);
  });

  it('parses durations in ms, s, m and h', () => {
    expect(parseDurationMs('k', '250ms')).toBe(250);
    expect(parseDurationMs('k', '30s')).toBe(30_000);
    expect(parseDurationMs('k', '5m')).toBe(300_000);
    expect(parseDurationMs('k', '2h')).toBe(7_200_000);
    expect(() => parseDurationMs('k', '1d')).toThrow(ConfigError);
    expect(() => parseDurationMs('k', '-1s')).toThrow(ConfigError);
  });

  it('parses host:port forms including IPv6', () => {
    expect(parseHostPort('k', ':80')).toEqual({ host: '0.0.0.0', port: 80 });
    expect(parseHostPort('k', '[::1]:5001')).toEqual({ host: '::1', port: 5001 });
    expect(() => parseHostPort('k', 'localhost:70000')).toThrow(ConfigError);
  });
});

describe('schema1 config', () => {
  it('defaults to no key file, push off and linux/amd64', () => {
    expect(loadConfig({}).schema1).toEqual({
      signingKeyFile: undefined,
      push: false,
      defaultPlatform: { os: 'linux', architecture: 'amd64' },
    });
  });

  it('reads WHARF_SCHEMA1_SIGNING_KEY, WHARF_SCHEMA1_PUSH and WHARF_SCHEMA1_DEFAULT_PLATFORM', () => {
    const c = loadConfig({
      WHARF_SCHEMA1_SIGNING_KEY: '/etc/wharf/schema1.pem',
      WHARF_SCHEMA1_PUSH: 'true',
      WHARF_SCHEMA1_DEFAULT_PLATFORM: 'linux/arm64',
    });
    expect(c.schema1).toEqual({
      signingKeyFile: '/etc/wharf/schema1.pem',
      push: true,
      defaultPlatform: { os: 'linux', architecture: 'arm64' },
    });
  });

  it('names the key of a bad schema1 value', () => {
    expect(() => loadConfig({ WHARF_SCHEMA1_PUSH: 'sometimes' })).toThrow(/WHARF_SCHEMA1_PUSH/);
    expect(() => loadConfig({ WHARF_SCHEMA1_DEFAULT_PLATFORM: 'amd64' })).toThrow(
      /WHARF_SCHEMA1_DEFAULT_PLATFORM/,
    );
    expect(() => loadConfig({ WHARF_SCHEMA1_DEFAULT_PLATFORM: 'linux/amd64/v3' })).toThrow(ConfigError);
  });
});

describe('auth and TLS configuration', () => {
  it('defaults to no access control and no TLS', () => {
    const c = loadConfig({ WHARF_DATA_DIR: '/tmp/x' });
    expect(c.auth).toMatchObject({
      mode: 'none',
      service: 'wharf',
      tokenKeyFile: '/tmp/x/keys/token-signing.pem',
      tokenKeyGenerated: true,
      tokenTtlMs: 300_000,
      failedLoginLimit: 10,
      failedLoginWindowMs: 300_000,
      trustForwardedFor: false,
    });
    expect(c.auth.external).toBeUndefined();
    expect(c.tls).toBeUndefined();
  });

  it('reads the token keys, with the audience defaulting to the service', () => {
    const c = loadConfig({
      WHARF_AUTH_MODE: 'token',
      WHARF_AUTH_SERVICE: 'registry.example.com',
      WHARF_AUTH_TOKEN_KEY: '/etc/wharf/key.pem',
      WHARF_AUTH_TOKEN_ISSUER: 'https://idp',
      WHARF_AUTH_TOKEN_JWKS: 'https://idp/jwks',
      WHARF_AUTH_GROUPS_CLAIM: 'groups',
    });
    expect(c.auth).toMatchObject({
      tokenKeyFile: '/etc/wharf/key.pem',
      tokenKeyGenerated: false,
      external: { issuer: 'https://idp', audience: 'registry.example.com', jwks: 'https://idp/jwks' },
      groupsClaim: 'groups',
    });
  });

  it('names the key of a bad or inconsistent auth value', () => {
    expect(() => loadConfig({ WHARF_AUTH_MODE: 'ldap' })).toThrow(/WHARF_AUTH_MODE/);
    expect(() => loadConfig({ WHARF_AUTH_MODE: 'basic' })).toThrow(/WHARF_AUTH_HTPASSWD/);
    expect(() => loadConfig({ WHARF_AUTH_POLICY: '/p.yaml' })).toThrow(/WHARF_AUTH_MODE/);
    expect(() => loadConfig({ WHARF_AUTH_MODE: 'token', WHARF_AUTH_TOKEN_ISSUER: 'x' })).toThrow(
      /WHARF_AUTH_TOKEN_JWKS/,
    );
    expect(() => loadConfig({ WHARF_AUTH_MODE: 'token', WHARF_AUTH_TOKEN_TTL: '30s' })).toThrow(
      /WHARF_AUTH_TOKEN_TTL/,
    );
    expect(() => loadConfig({ WHARF_AUTH_SERVICE: 'a "b"' })).toThrow(/WHARF_AUTH_SERVICE/);
    expect(() => loadConfig({ WHARF_AUTH_TOKEN_REALM: 'ftp://x' })).toThrow(/WHARF_AUTH_TOKEN_REALM/);
    expect(() => loadConfig({ WHARF_AUTH_TRUST_FORWARDED_FOR: 'maybe' })).toThrow(
      /WHARF_AUTH_TRUST_FORWARDED_FOR/,
    );
    expect(() => loadConfig({ WHARF_TLS_CERT: '/c.pem' })).toThrow(/WHARF_TLS_KEY/);
  });

  it('reads auth keys from the YAML file too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-cfg-'));
    writeFileSync(
      `${dir}/c.yaml`,
      'auth:\n  mode: token\n  service: reg\ntls:\n  cert: /c.pem\n  key: /k.pem\n',
    );
    const c = loadConfig({ WHARF_CONFIG: `${dir}/c.yaml` });
    expect(c.auth.mode).toBe('token');
    expect(c.auth.service).toBe('reg');
    expect(c.tls).toEqual({ certFile: '/c.pem', keyFile: '/k.pem' });
  });
});
