import type { UpstreamConfig } from './proxy-config';
import { ProxyNames } from './proxy-names';

const upstream = (u: Partial<UpstreamConfig> & { name: string }): UpstreamConfig => ({
  url: `https://${u.name}.example`,
  hosts: [`${u.name}.example`],
  tagTtlMs: 300_000,
  default: false,
  ...u,
});

describe('ProxyNames', () => {
  const names = new ProxyNames({
    upstreams: [
      upstream({ name: 'hub', hosts: ['docker.io'], defaultNamespace: 'library', default: true }),
      upstream({ name: 'ghcr', hosts: ['ghcr.io'] }),
    ],
  });

  test('the prefix form maps hub/<path> to <path>, a one-segment path under the default namespace', () => {
    expect(names.forLocal('hub/nginx')).toMatchObject({ local: 'hub/nginx', remote: 'library/nginx' });
    expect(names.forLocal('hub/bitnami/redis')).toMatchObject({ remote: 'bitnami/redis' });
    expect(names.forLocal('ghcr/org/app')).toMatchObject({ local: 'ghcr/org/app', remote: 'org/app' });
    expect(names.forLocal('ghcr/app')).toMatchObject({ remote: 'app' });
  });

  test('a name outside every prefix, or the prefix alone, is no mirror', () => {
    expect(names.forLocal('team/app')).toBeUndefined();
    expect(names.forLocal('hub')).toBeUndefined();
    expect(names.forLocal('hubx/nginx')).toBeUndefined();
  });

  test("containerd's ns form serves the path under the upstream of that host, names it back", () => {
    expect(names.forNamespace('docker.io', 'library/nginx')).toMatchObject({
      local: 'hub/library/nginx',
      remote: 'library/nginx',
      namespace: 'docker.io',
    });
    expect(names.forNamespace('GHCR.io', 'org/app')).toMatchObject({ local: 'ghcr/org/app' });
    expect(names.forNamespace('quay.io', 'org/app')).toBeUndefined();
  });

  test('the default upstream takes unprefixed names only', () => {
    expect(names.forUnprefixed('library/nginx')).toMatchObject({
      local: 'hub/library/nginx',
      remote: 'library/nginx',
    });
    expect(names.forUnprefixed('nginx')).toMatchObject({ local: 'hub/nginx', remote: 'library/nginx' });
    expect(names.forUnprefixed('ghcr/org/app')).toBeUndefined();
    expect(new ProxyNames({ upstreams: [upstream({ name: 'ghcr' })] }).forUnprefixed('x/y')).toBeUndefined();
  });
});
