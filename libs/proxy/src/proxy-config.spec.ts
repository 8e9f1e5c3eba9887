import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyConfigError, loadProxyConfig, parseProxyConfig } from './proxy-config';

const parse = (text: string) => parseProxyConfig(text, 'proxy.yaml');

function failure(text: string): string {
  try {
    parse(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ProxyConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ProxyConfigError');
}

describe('parseProxyConfig', () => {
  it('applies defaults: hosts from the url as written, tagTTL 5m, not default', () => {
    const cfg = parse('upstreams:\n  - name: hub\n    url: https://registry-1.docker.io/\n');
    expect(cfg).toEqual({
      upstreams: [
        {
          name: 'hub',
          url: 'https://registry-1.docker.io',
          hosts: ['registry-1.docker.io'],
          tagTtlMs: 300_000,
          default: false,
        },
      ],
    });
    const port = parse('upstreams:\n  - name: local\n    url: http://Reg.example:443/prefix//\n')
      .upstreams[0];
    expect(port.hosts).toEqual(['reg.example:443']);
    expect(port.url).toBe('http://Reg.example:443/prefix');
  });

  it('reads every key', () => {
    const cfg = parse(
      [
        'upstreams:',
        '  - name: hub',
        '    url: https://registry-1.docker.io',
        '    hosts: [docker.io, Registry-1.docker.io]',
        '    defaultNamespace: library',
        '    username: bob',
        '    password: "12345"',
        '    tagTTL: 90s',
        '    default: true',
        '  - name: ghcr',
        '    url: https://ghcr.io',
        '    tagTTL: 0s',
      ].join('\n'),
    );
    expect(cfg.upstreams[0]).toEqual({
      name: 'hub',
      url: 'https://registry-1.docker.io',
      hosts: ['docker.io', 'registry-1.docker.io'],
      defaultNamespace: 'library',
      username: 'bob',
      password: '12345',
      tagTtlMs: 90_000,
      default: true,
    });
    expect(cfg.upstreams[1]).toMatchObject({ name: 'ghcr', tagTtlMs: 0, default: false });
  });

  it.each([
    ['', 1, 'expected a mapping'],
    ['upstreams: []\n', 1, 'non-empty list'],
    ['upstreams:\n  - name: a\n    url: http://a\nextra: 1\n', 4, 'unknown key "extra"'],
    ['upstreams:\n  - name: a\n    url: http://a\n    tagTtl: 5m\n', 4, 'unknown key "tagTtl"'],
    ['upstreams:\n  - name: a\n    url: http://a\n  - 7\n', 4, 'an upstream is a mapping'],
    ['upstreams:\n  - url: http://a\n', 2, 'needs a name'],
    ['upstreams:\n  - name: Hub\n    url: http://a\n', 2, 'not a repository path component'],
    ['upstreams:\n  - name: a/b\n    url: http://a\n', 2, 'not a repository path component'],
    ['upstreams:\n  - name: a\n', 2, 'needs a url'],
    ['upstreams:\n  - name: a\n    url: ftp://a\n', 3, 'not an http:// or https:// URL'],
    ['upstreams:\n  - name: a\n    url: not a url\n', 3, 'not an http:// or https:// URL'],
    ['upstreams:\n  - name: a\n    url: https://u:p@a\n', 3, 'must not hold credentials'],
    ['upstreams:\n  - name: a\n    url: https://a/?x=1\n', 3, 'query or fragment'],
    ['upstreams:\n  - name: a\n    url: http://a\n  - name: a\n    url: http://b\n', 4, 'used twice'],
    [
      'upstreams:\n  - name: a\n    url: http://x\n  - name: b\n    url: http://x\n',
      4,
      'host "x" is listed by',
    ],
    ['upstreams:\n  - name: a\n    url: http://a\n    hosts: [b, B]\n', 4, 'listed twice'],
    ['upstreams:\n  - name: a\n    url: http://a\n    hosts: ["a b"]\n', 4, 'host or host:port'],
    ['upstreams:\n  - name: a\n    url: http://a\n    hosts: []\n', 4, 'non-empty list'],
    ['upstreams:\n  - name: a\n    url: http://a\n    defaultNamespace: Lib\n', 4, 'defaultNamespace'],
    ['upstreams:\n  - name: a\n    url: http://a\n    username: u\n', 4, 'username needs password'],
    ['upstreams:\n  - name: a\n    url: http://a\n    password: p\n', 4, 'password needs a username'],
    ['upstreams:\n  - name: a\n    url: http://a\n    password: 123\n', 4, 'non-empty string'],
    [
      'upstreams:\n  - name: a\n    url: http://a\n    username: u\n    password: p\n    passwordFile: f\n',
      6,
      'not both',
    ],
    ['upstreams:\n  - name: a\n    url: http://a\n    tagTTL: 5 minutes\n', 4, 'not a duration'],
    ['upstreams:\n  - name: a\n    url: http://a\n    tagTTL: 30\n', 4, 'not a duration'],
    ['upstreams:\n  - name: a\n    url: http://a\n    default: yes\n', 4, 'true or false'],
    [
      'upstreams:\n  - name: a\n    url: http://a\n    default: true\n  - name: b\n    url: http://b\n    default: true\n',
      5,
      'only one upstream may be the default',
    ],
    ['upstreams:\n  - name: a\n    name: b\n', 3, 'Map keys must be unique'],
    ['upstreams:\n  - name: [a\n', 3, ''],
  ])('refuses %j at line %d', (text, line, problem) => {
    const message = failure(text);
    expect(message).toMatch(new RegExp(`^invalid proxy config proxy\\.yaml line ${line}: `));
    expect(message).toContain(problem);
  });

  it('never puts a password in its messages', () => {
    const message = failure('upstreams:\n  - name: a\n    url: http://a\n    password: s3cret\n');
    expect(message).not.toContain('s3cret');
  });
});

describe('passwordFile and loadProxyConfig', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'wharf-proxy-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads passwordFile relative to the config, dropping one trailing newline', () => {
    writeFileSync(join(dir, 'secret'), 'pa ss\n\n');
    const file = join(dir, 'proxy.yaml');
    writeFileSync(
      file,
      'upstreams:\n  - name: a\n    url: http://a\n    username: u\n    passwordFile: secret\n',
    );
    expect(loadProxyConfig(file).upstreams[0]).toMatchObject({ username: 'u', password: 'pa ss\n' });
  });

  it('names the line of a passwordFile it cannot read, and of an empty one', () => {
    const file = join(dir, 'proxy.yaml');
    writeFileSync(
      file,
      'upstreams:\n  - name: a\n    url: http://a\n    username: u\n    passwordFile: missing\n',
    );
    expect(() => loadProxyConfig(file)).toThrow(/line 5: cannot read passwordFile .*missing: ENOENT/);
    writeFileSync(join(dir, 'empty'), '\n');
    writeFileSync(
      file,
      'upstreams:\n  - name: a\n    url: http://a\n    username: u\n    passwordFile: empty\n',
    );
    expect(() => loadProxyConfig(file)).toThrow(/line 5: passwordFile .*empty is empty/);
  });

  it('says when the config file itself cannot be read', () => {
    expect(() => loadProxyConfig(join(dir, 'nope.yaml'))).toThrow(
      new RegExp(`^invalid proxy config ${dir}/nope.yaml: cannot read it`),
    );
  });
});
