import { loadConfig } from './config';
import { requireCluster } from './cluster';

const BASE = {
  WHARF_NATS_URL: 'nats://a:4222,nats://b:4222',
  WHARF_INTERNAL_TOKEN: 'x'.repeat(32),
  WHARF_BLOB_URL: 'http://blob-0:8080, http://blob-1:8080/',
  WHARF_METADATA_URL: 'http://metadata:8080',
};

describe('distributed-shape configuration', () => {
  it('reads URL lists, the prefix and the timeouts', () => {
    const c = loadConfig(BASE).cluster;
    expect(c.natsServers).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(c.blobUrls).toEqual(['http://blob-0:8080', 'http://blob-1:8080']);
    expect(c.natsPrefix).toBe('wharf');
    expect(c.natsTimeoutMs).toBe(30_000);
    expect(c.storage).toEqual({ driver: 'filesystem' });
  });

  it.each([
    ['gateway', 'WHARF_METADATA_URL'],
    ['metadata', 'WHARF_BLOB_URL'],
    ['blob', 'WHARF_INTERNAL_TOKEN'],
    ['gateway', 'WHARF_NATS_URL'],
  ] as const)('the %s service stops naming %s when it is missing', (role, key) => {
    const env: Record<string, string> = { ...BASE };
    delete env[key];
    expect(() => requireCluster(loadConfig(env).cluster, role)).toThrow(new RegExp(key));
  });

  it.each([
    ['WHARF_NATS_URL', 'http://not-nats'],
    ['WHARF_BLOB_URL', 'blob:8080'],
    ['WHARF_INTERNAL_TOKEN', 'short'],
    ['WHARF_NATS_PREFIX', 'has spaces'],
    ['WHARF_NATS_TIMEOUT', 'soon'],
    ['WHARF_STORAGE_DRIVER', 'tape'],
    ['WHARF_S3_PATH_STYLE', 'maybe'],
  ])('a bad %s stops the start with a message naming it', (key, value) => {
    const env: Record<string, string> = {
      ...BASE,
      WHARF_S3_ENDPOINT: 'http://minio:9000',
      WHARF_S3_BUCKET: 'b',
      WHARF_S3_ACCESS_KEY: 'k',
      WHARF_S3_SECRET_KEY: 's',
      [key]: value,
    };
    expect(() => loadConfig(env)).toThrow(new RegExp(key));
  });

  it('setting WHARF_S3_ENDPOINT is the one change that selects the S3 driver, and it needs its keys', () => {
    expect(() => loadConfig({ ...BASE, WHARF_S3_ENDPOINT: 'http://minio:9000' })).toThrow(/WHARF_S3_BUCKET/);
    const s = loadConfig({
      ...BASE,
      WHARF_S3_ENDPOINT: 'http://minio:9000',
      WHARF_S3_BUCKET: 'wharf',
      WHARF_S3_ACCESS_KEY: 'k',
      WHARF_S3_SECRET_KEY: 's',
    }).cluster.storage;
    expect(s).toMatchObject({
      driver: 's3',
      endpoint: 'http://minio:9000',
      bucket: 'wharf',
      pathStyle: true,
      redirect: false,
    });
  });

  it('WHARF_S3_REDIRECT is off by default and reaches a gateway that has no S3 settings', () => {
    expect(loadConfig(BASE).cluster.redirectBlobs).toBe(false);
    const gateway = loadConfig({ ...BASE, WHARF_S3_REDIRECT: 'true' }).cluster;
    expect(gateway.redirectBlobs).toBe(true);
    expect(gateway.storage).toEqual({ driver: 'filesystem' });
    expect(() => loadConfig({ ...BASE, WHARF_S3_REDIRECT: 'sometimes' })).toThrow(/WHARF_S3_REDIRECT/);
  });

  it('NATS credentials are a user and password together, or a token', () => {
    expect(() => loadConfig({ ...BASE, WHARF_NATS_USER: 'u' })).toThrow(/WHARF_NATS_PASSWORD/);
    expect(() =>
      loadConfig({ ...BASE, WHARF_NATS_TOKEN: 't', WHARF_NATS_USER: 'u', WHARF_NATS_PASSWORD: 'p' }),
    ).toThrow(/WHARF_NATS_TOKEN/);
  });
});
