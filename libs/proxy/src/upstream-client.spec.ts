import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { sha256 } from '@wharf/oci';
import type { UpstreamConfig } from './proxy-config';
import { UpstreamClient, UpstreamError } from './upstream-client';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
interface Fake {
  url: string;
  requests: { method: string; url: string; authorization?: string; accept?: string }[];
  handle: Handler;
  server: Server;
}

const fakes: Fake[] = [];
const clients: UpstreamClient[] = [];

async function fake(handle: Handler): Promise<Fake> {
  const f = { requests: [], handle } as unknown as Fake;
  f.server = createServer((req, res) => {
    f.requests.push({
      method: req.method!,
      url: req.url!,
      authorization: req.headers.authorization,
      accept: req.headers.accept,
    });
    f.handle(req, res);
  });
  await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', resolve));
  f.url = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`;
  fakes.push(f);
  return f;
}

function client(url: string, extra: Partial<UpstreamConfig> = {}, opts = {}): UpstreamClient {
  const c = new UpstreamClient(
    { name: 'up', url, hosts: [], tagTtlMs: 1000, default: false, ...extra },
    opts,
  );
  clients.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(UpstreamError);
    return e as UpstreamError;
  }
  throw new Error('expected an UpstreamError');
}

async function drain(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(
    fakes.splice(0).map((f) => {
      f.server.closeAllConnections();
      return new Promise((resolve) => f.server.close(resolve));
    }),
  );
});

const MANIFEST = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
const MANIFEST_DIGEST = sha256(MANIFEST);
const BLOB = Buffer.alloc(200_000, 7);
const BLOB_DIGEST = sha256(BLOB);

/** A tiny registry: one manifest (tag `latest` and its digest) and one blob in `library/nginx`. */
const registry: Handler = (req, res) => {
  const head = req.method === 'HEAD';
  if (
    req.url === '/v2/library/nginx/manifests/latest' ||
    req.url === `/v2/library/nginx/manifests/${MANIFEST_DIGEST}`
  ) {
    res.writeHead(200, {
      'content-type': 'application/vnd.oci.image.manifest.v1+json; charset=utf-8',
      'content-length': MANIFEST.length,
      'docker-content-digest': MANIFEST_DIGEST,
    });
    return res.end(head ? undefined : MANIFEST);
  }
  if (req.url === `/v2/library/nginx/blobs/${BLOB_DIGEST}`) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BLOB.length });
    return res.end(head ? undefined : BLOB);
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(head ? undefined : '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
};

describe('UpstreamClient, anonymous', () => {
  it('HEADs and GETs manifests with every manifest type accepted', async () => {
    const up = await fake(registry);
    const c = client(`${up.url}/`);
    expect(await c.headManifest('library/nginx', 'latest')).toEqual({
      digest: MANIFEST_DIGEST,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: MANIFEST.length,
    });
    const m = await c.getManifest('library/nginx', 'latest');
    expect(m).toEqual({
      digest: MANIFEST_DIGEST,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      body: MANIFEST,
    });
    expect(await c.getManifest('library/nginx', MANIFEST_DIGEST)).toEqual(m);
    const accept = up.requests[0].accept!.split(', ');
    expect(accept.sort()).toEqual(
      [
        'application/vnd.docker.distribution.manifest.v1+json',
        'application/vnd.docker.distribution.manifest.v1+prettyjws',
        'application/vnd.docker.distribution.manifest.v2+json',
        'application/vnd.docker.distribution.manifest.list.v2+json',
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.oci.image.index.v1+json',
      ].sort(),
    );
    expect(up.requests.map((r) => [r.method, r.authorization])).toEqual([
      ['HEAD', undefined],
      ['GET', undefined],
      ['GET', undefined],
    ]);
  });

  it('HEADs and streams blobs', async () => {
    const up = await fake(registry);
    const c = client(up.url);
    expect(await c.headBlob('library/nginx', BLOB_DIGEST)).toEqual({ size: BLOB.length });
    const { size, body } = await c.getBlob('library/nginx', BLOB_DIGEST);
    expect(size).toBe(BLOB.length);
    expect((await drain(body)).equals(BLOB)).toBe(true);
  });

  it('keeps the url path prefix', async () => {
    const up = await fake((req, res) => {
      req.url = req.url!.replace(/^\/mirror/, '');
      registry(req, res);
    });
    expect((await client(`${up.url}/mirror`).getManifest('library/nginx', 'latest')).digest).toBe(
      MANIFEST_DIGEST,
    );
    expect(up.requests[0].url).toBe('/mirror/v2/library/nginx/manifests/latest');
  });
});

describe('UpstreamClient, failures', () => {
  it('maps 404 to not-found with the upstream error', async () => {
    const up = await fake(registry);
    const e = await failure(client(up.url).getManifest('library/nginx', 'nope'));
    expect(e).toMatchObject({ upstream: 'up', failure: 'not-found', status: 404 });
    expect(e.reason).toBe('upstream up: 404 Not Found: MANIFEST_UNKNOWN manifest unknown');
    expect((await failure(client(up.url).headBlob('library/nginx', sha256('x')))).failure).toBe('not-found');
  });

  it('maps 429 to rate-limited keeping Retry-After, and 503 to unavailable', async () => {
    const up = await fake((req, res) => {
      if (req.url!.includes('busy')) {
        res.writeHead(429, { 'retry-after': '7', 'content-type': 'application/json' });
        return res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limit"}]}');
      }
      res.writeHead(503);
      res.end('down for maintenance\nmore');
    });
    const e = await failure(client(up.url).getManifest('busy', 'latest'));
    expect(e).toMatchObject({ failure: 'rate-limited', status: 429, retryAfter: '7' });
    expect(e.reason).toBe('upstream up: 429 Too Many Requests: TOOMANYREQUESTS rate limit');
    const d = await failure(client(up.url).getBlob('down', sha256('x')));
    expect(d).toMatchObject({ failure: 'unavailable', status: 503 });
    expect(d.reason).toBe('upstream up: 503 Service Unavailable: down for maintenance');
  });

  it('maps a refused connection and a silent server to unavailable', async () => {
    const gone = await fake(registry);
    const url = gone.url;
    await new Promise((resolve) => gone.server.close(resolve));
    const e = await failure(client(url).getManifest('library/nginx', 'latest'));
    expect(e.failure).toBe('unavailable');
    expect(e.reason).toBe(`upstream up: cannot reach ${url}: ECONNREFUSED`);

    const silent = await fake(() => undefined);
    const t = await failure(client(silent.url, {}, { timeoutMs: 150 }).headManifest('a', 'latest'));
    expect(t.reason).toBe(`upstream up: no response from ${silent.url} within 150ms`);
  });

  it('reports a manifest whose body does not hash to the requested digest as corrupt', async () => {
    const up = await fake(registry);
    const other = sha256('other');
    up.handle = (req, res) => {
      req.url = req.url!.replace(other, MANIFEST_DIGEST);
      registry(req, res);
    };
    const e = await failure(client(up.url).getManifest('library/nginx', other));
    expect(e.failure).toBe('corrupt');
    expect(e.reason).toContain(MANIFEST_DIGEST);
  });

  it('caps manifests at 4 MiB', async () => {
    const up = await fake((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
      res.end(Buffer.alloc(4 * 1024 * 1024 + 1, 32));
    });
    const e = await failure(client(up.url).getManifest('big', 'latest'));
    expect(e.failure).toBe('unavailable');
    expect(e.reason).toMatch(/manifest big:latest is more than the 4194304 bytes allowed/);
  });

  it('fails a blob stream that stalls or ends short', async () => {
    const up = await fake((req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(100));
      if (req.url!.includes('short')) setTimeout(() => res.socket!.destroy(), 50);
    });
    const c = client(up.url, {}, { idleTimeoutMs: 200 });
    const { size, body } = await c.getBlob('stall', BLOB_DIGEST);
    expect(size).toBe(1000);
    const started = Date.now();
    const e = await failure(drain(body));
    expect(e.reason).toBe('upstream up: blob body stalled: no data for 200ms after 100 bytes');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);

    const short = await c.getBlob('short', BLOB_DIGEST);
    expect((await failure(drain(short.body))).reason).toMatch(/blob body broke off after 100 bytes/);
  });

  it('does not count a slow reader as a stalled upstream', async () => {
    const up = await fake((_req, res) => {
      res.writeHead(200, { 'content-length': BLOB.length });
      res.end(BLOB);
    });
    const { body } = await client(up.url, {}, { idleTimeoutMs: 100 }).getBlob('slow', BLOB_DIGEST);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await drain(body)).length).toBe(BLOB.length);
  });
});

describe('UpstreamClient, authentication', () => {
  const creds = { username: 'alice', password: 'pw-s3cret' };
  const basic = `Basic ${Buffer.from('alice:pw-s3cret').toString('base64')}`;

  it('answers a Basic challenge and then authenticates up front', async () => {
    const up = await fake((req, res) => {
      if (req.headers.authorization === basic) return registry(req, res);
      res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' });
      res.end();
    });
    const c = client(up.url, creds);
    await c.getManifest('library/nginx', 'latest');
    await c.headBlob('library/nginx', BLOB_DIGEST);
    expect(up.requests.map((r) => r.authorization)).toEqual([undefined, basic, basic]);

    const wrong = client(up.url, { username: 'alice', password: 'wrong-pw' });
    const e = await failure(wrong.getManifest('library/nginx', 'latest'));
    expect(e).toMatchObject({ failure: 'denied', status: 401 });
    expect(e.reason).not.toContain('wrong-pw');
    expect((await failure(client(up.url).getManifest('library/nginx', 'latest'))).failure).toBe('denied');
  });

  async function bearerPair(expiresIn?: number) {
    let issued = 0;
    const auth = await fake((req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (req.headers.authorization !== basic) {
        res.writeHead(401);
        return res.end('{"details":"bad creds"}');
      }
      issued++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          [issued % 2 ? 'token' : 'access_token']: `tok-${issued}-${url.searchParams.get('scope')}`,
          ...(expiresIn === undefined ? {} : { expires_in: expiresIn }),
        }),
      );
    });
    const reg = await fake((req, res) => {
      const scope = `repository:${/^\/v2\/(.+)\/(manifests|blobs)\//.exec(req.url!)?.[1]}:pull`;
      if (new RegExp(`^Bearer tok-\\d+-${scope}$`).test(req.headers.authorization ?? ''))
        return registry(req, res);
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="${auth.url}/token",service="registry.test",scope="${scope}"`,
      });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    });
    return { auth, reg };
  }

  it('fetches one token per scope and reuses it until it expires', async () => {
    const { auth, reg } = await bearerPair(300);
    let now = 1_000_000;
    const c = client(reg.url, creds, { now: () => now });
    await c.getManifest('library/nginx', 'latest');
    await c.getManifest('library/nginx', MANIFEST_DIGEST);
    await c.headBlob('library/nginx', BLOB_DIGEST);
    expect(auth.requests).toHaveLength(1);
    expect(auth.requests[0].url).toBe(
      '/token?service=registry.test&scope=repository%3Alibrary%2Fnginx%3Apull',
    );
    expect(auth.requests[0].authorization).toBe(basic);
    // 401 once, then the token goes up front.
    expect(reg.requests.map((r) => r.authorization?.replace(/-repository.*/, ''))).toEqual([
      undefined,
      'Bearer tok-1',
      'Bearer tok-1',
      'Bearer tok-1',
    ]);

    // Another scope: a token of its own, fetched before the request since the scheme is known.
    expect((await failure(c.getManifest('other/repo', 'latest'))).failure).toBe('not-found');
    expect(auth.requests).toHaveLength(2);
    expect(reg.requests.at(-1)!.authorization).toBe('Bearer tok-2-repository:other/repo:pull');

    now += 289_000; // within expires_in - 10 s
    await c.getManifest('library/nginx', 'latest');
    expect(auth.requests).toHaveLength(2);
    now += 2_000;
    await c.getManifest('library/nginx', 'latest');
    expect(auth.requests).toHaveLength(3);
    expect(reg.requests.at(-1)!.authorization).toBe('Bearer tok-3-repository:library/nginx:pull');
  });

  it('shares one token fetch between concurrent requests and defaults expires_in to 60 s', async () => {
    const { auth, reg } = await bearerPair();
    let now = 0;
    const c = client(reg.url, creds, { now: () => now });
    await c.getManifest('library/nginx', 'latest');
    await Promise.all(
      [1, 2, 3].map(() => c.getBlob('library/nginx', BLOB_DIGEST).then((b) => drain(b.body))),
    );
    expect(auth.requests).toHaveLength(1);
    now += 51_000;
    await c.headManifest('library/nginx', 'latest');
    expect(auth.requests).toHaveLength(2);
    expect(reg.requests).toHaveLength(6);
  });

  it('refetches a token the registry refuses, then gives up as denied', async () => {
    const { auth, reg } = await bearerPair(300);
    const c = client(reg.url, creds);
    await c.getManifest('library/nginx', 'latest');
    const handle = reg.handle;
    reg.handle = (req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${auth.url}/token",service="registry.test"` });
      res.end();
    };
    const e = await failure(c.getManifest('library/nginx', 'latest'));
    expect(e).toMatchObject({ failure: 'denied', status: 401 });
    expect(auth.requests).toHaveLength(2);
    expect(e.reason).not.toMatch(/tok-|pw-s3cret/);
    reg.handle = handle;
    await c.getManifest('library/nginx', 'latest');
  });

  it('reports a refused token request as denied without the credentials', async () => {
    const { reg } = await bearerPair(300);
    const e = await failure(
      client(reg.url, { username: 'alice', password: 'bad-pw' }).getManifest('a/b', 'latest'),
    );
    expect(e.failure).toBe('denied');
    expect(e.reason).toMatch(/^upstream up: token request to http:\/\/127\.0\.0\.1:\d+: 401 Unauthorized/);
    expect(e.reason).not.toContain('bad-pw');
  });

  it('follows a blob redirect to another origin without Authorization', async () => {
    const cdn = await fake((req, res) => {
      res.writeHead(200, { 'content-length': BLOB.length });
      res.end(BLOB);
    });
    const up = await fake((req, res) => {
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' });
        return res.end();
      }
      if (req.url!.includes('/blobs/')) {
        res.writeHead(307, {
          location: req.url!.startsWith('/v2/hop/') ? req.url!.replace('hop', 'x') : `${cdn.url}/b?X-Sig=abc`,
        });
        return res.end();
      }
      registry(req, res);
    });
    const c = client(up.url, creds);
    const { size, body } = await c.getBlob('hop/img', BLOB_DIGEST);
    expect(size).toBe(BLOB.length);
    expect((await drain(body)).equals(BLOB)).toBe(true);
    expect(up.requests.map((r) => [r.url.split('/')[2], r.authorization])).toEqual([
      ['hop', undefined],
      ['hop', basic],
      ['x', basic],
    ]);
    expect(cdn.requests).toEqual([
      { method: 'GET', url: '/b?X-Sig=abc', authorization: undefined, accept: undefined },
    ]);
  });

  it('stops after 5 redirects', async () => {
    const up = await fake((req, res) => {
      res.writeHead(302, { location: req.url + 'x' });
      res.end();
    });
    const e = await failure(client(up.url).getBlob('loop', BLOB_DIGEST));
    expect(e.reason).toBe(`upstream up: more than 5 redirects from ${up.url}`);
    expect(up.requests).toHaveLength(6);
  });
});
