import { ConfigError, loadConfig, parseDurationMs, parseHostPort } from './config';

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
