/**
 * Pull-through cache in front of a registry that wants Bearer tokens (a second Wharf in token mode,
 * htpasswd + policy): the cache follows the challenge to the realm with its credentials, asks for
 * pull scope only, reuses a token for its scope, and a repository its account may not pull is
 * neither served nor cached.
 */
import { ACCEPT_ALL, makeImage, makeIndex, seedImage, seedIndex, sha256 } from './support/seed';
import { UpstreamTap } from './support/upstream-tap';
import { startWharfTokenUpstream, type WharfTokenUpstream } from './support/upstreams';
import { expectStatus, get, startProxyWharf, type ProxyWharf } from './support/wharf';

describe('pull-through cache: token-auth upstream (Wharf in token mode)', () => {
  let up: WharfTokenUpstream;
  let tap: UpstreamTap;
  let wharf: ProxyWharf;
  const app = makeImage({ layerSizes: [2048, 4096] });
  const index = makeIndex();
  const secret = makeImage();

  const manifest = (path: string, ref: string, query = '') =>
    get(`${wharf.url}/v2/${path}/manifests/${ref}${query}`, { headers: { Accept: ACCEPT_ALL } });

  beforeAll(async () => {
    up = await startWharfTokenUpstream();
    tap = await UpstreamTap.start(up.url);
    await seedImage(up, 'lib/app', 'v1', app);
    await seedIndex(up, 'team/multi', 'v1', index);
    await seedImage(up, 'private/secret', 'v1', secret);
    wharf = await startProxyWharf([
      { name: 'tok', url: tap.url, username: up.mirror.user, password: up.mirror.password },
    ]);
  });

  afterEach(() => {
    tap.heal();
    tap.resetCounts();
  });

  afterAll(async () => {
    await wharf?.stop();
    await tap?.stop();
    await up?.dispose();
  });

  /** The token requests the cache made, with the scope asked and what the token granted. */
  const tokenRequests = () =>
    tap.requests
      .filter((r) => r.url.startsWith('/auth/token'))
      .map((r) => ({
        scope: new URL(r.url, 'http://x').searchParams.getAll('scope'),
        credentials: r.authorization,
        status: r.status,
      }));

  it('pulls an image through the Bearer flow, asking pull scope with its credentials, one token per scope', async () => {
    const m = await manifest('tok/lib/app', 'v1');
    expectStatus(m, 200, 'GET /v2/tok/lib/app/manifests/v1');
    expect(m.body.equals(app.body)).toBe(true);
    for (const [digest, data] of app.blobs) {
      const b = await get(`${wharf.url}/v2/tok/lib/app/blobs/${digest}`);
      expectStatus(b, 200, `GET /v2/tok/lib/app/blobs/${digest}`);
      expect(b.body.equals(data)).toBe(true);
    }
    // Anonymous may pull nothing upstream: the 200s above needed the configured account.
    expect(tokenRequests()).toEqual([{ scope: ['repository:lib/app:pull'], credentials: true, status: 200 }]);
    // Every registry request after the first challenge carries the token.
    const v2 = tap.requests.filter((r) => r.url.startsWith('/v2/'));
    expect(v2.filter((r) => r.status === 401).length).toBeLessThanOrEqual(1);
    expect(v2.filter((r) => r.status === 200).every((r) => r.authorization)).toBe(true);
  });

  it('a multi-arch index and its instances, by the ?ns= form (the upstream URL host)', async () => {
    const ns = `?ns=${tap.host}`;
    const m = await manifest('team/multi', 'v1', ns);
    expectStatus(m, 200, `GET /v2/team/multi/manifests/v1${ns}`);
    expect(m.headers.get('oci-namespace')).toBe(tap.host);
    expect(sha256(m.body)).toBe(index.digest);
    for (const img of index.images) {
      const c = await manifest('team/multi', img.digest, ns);
      expectStatus(c, 200, `GET /v2/team/multi/manifests/${img.digest}${ns}`);
      const b = await get(`${wharf.url}/v2/team/multi/blobs/${sha256(img.layers[1])}${ns}`);
      expectStatus(b, 200, `GET layer of ${img.digest}${ns}`);
    }
  });

  it('a repository the account may not pull is not served, and nothing of it is cached', async () => {
    const r = await manifest('tok/private/secret', 'v1');
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.body.includes(secret.body)).toBe(false);
    const b = await get(`${wharf.url}/v2/tok/private/secret/blobs/${sha256(secret.layers[0])}`);
    expect(b.status).toBeGreaterThanOrEqual(400);
    // The message says why without leaking credentials.
    for (const a of [r, b]) {
      expect(a.body.toString()).not.toContain(up.mirror.password);
      expect(a.body.toString()).not.toMatch(/Bearer [A-Za-z0-9_-]{20,}/);
    }
    const again = await manifest('tok/private/secret', 'v1');
    expect(again.status).toBe(r.status);
  });

  it('pushes into the proxied name are refused before anything reaches the upstream', async () => {
    const img = makeImage();
    const r = await get(`${wharf.url}/v2/tok/lib/app/manifests/v2`, {
      method: 'PUT',
      headers: { 'Content-Type': img.mediaType },
      body: img.body,
    });
    expect(`${r.status} ${r.code}`).toBe('405 UNSUPPORTED');
    expect(tap.requests).toEqual([]);
  });
});
