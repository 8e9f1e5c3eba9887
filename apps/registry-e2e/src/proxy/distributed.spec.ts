/**
 * Pull-through cache in the distributed shape (two gateways, two metadata and two blob services as
 * processes of the built dist/, every one with WHARF_PROXY_CONFIG), whatever WHARF_E2E_SHAPE says:
 * what one gateway fetched, the other serves without the upstream, and concurrent pulls spread over
 * both gateways fetch an uncached blob from the upstream once (the fill lease in metadata).
 * The other proxy specs run in this shape too with WHARF_E2E_SHAPE=distributed.
 */
import { ACCEPT_ALL, makeImage, makeIndex, seedImage, seedIndex, sha256 } from './support/seed';
import { blobFetches, within, startDistWorld, writesSeen, type DistWorld } from './support/setup';
import { expectStatus, get, rawGet } from './support/wharf';

const MiB = 1024 * 1024;

describe('pull-through cache: distributed shape', () => {
  let w: DistWorld;
  let gw: string[];

  beforeAll(async () => {
    w = await startDistWorld({ shape: 'distributed' });
    gw = w.wharf.gateways;
    expect(gw.length).toBe(2);
  });

  afterEach(() => w.reset());

  afterAll(async () => {
    await w?.dispose();
  });

  it('an index pulled through one gateway is served by the other without the upstream', async () => {
    const index = makeIndex();
    await seedIndex(w.dist, 'lib/multi', 'v1', index);
    const pull = async (base: string) => {
      const m = await get(`${base}/v2/d28/lib/multi/manifests/v1`, { headers: { Accept: ACCEPT_ALL } });
      expectStatus(m, 200, `GET ${base}/v2/d28/lib/multi/manifests/v1`);
      expect(m.body.equals(index.body)).toBe(true);
      for (const img of index.images) {
        const c = await get(`${base}/v2/d28/lib/multi/manifests/${img.digest}`, {
          headers: { Accept: ACCEPT_ALL },
        });
        expectStatus(c, 200, `GET ${base} instance ${img.digest}`);
        for (const [digest, data] of img.blobs) {
          const b = await get(`${base}/v2/d28/lib/multi/blobs/${digest}`);
          expectStatus(b, 200, `GET ${base} blob ${digest}`);
          expect(b.body.equals(data)).toBe(true);
        }
      }
    };
    await pull(gw[0]);
    w.tap.resetCounts();
    await pull(gw[1]);
    // Each gateway confirms a tag with the upstream once per tagTTL (ADR 25: per process): one HEAD
    // of the tag, sent twice when it is this gateway's first request (a 401 names the auth scheme),
    // and nothing else, manifests by digest and blobs least of all.
    const asked = w.tap.summary();
    expect(Object.keys(asked).filter((k) => k !== 'HEAD /v2/lib/multi/manifests/v1')).toEqual([]);
    expect(asked['HEAD /v2/lib/multi/manifests/v1'] ?? 0).toBeLessThanOrEqual(2);
  });

  it('concurrent GETs of an uncached blob over both gateways fetch it from the upstream once', async () => {
    const img = makeImage({ layerSizes: [2 * MiB] });
    await seedImage(w.dist, 'lib/concurrent', 'v1', img);
    const digest = sha256(img.layers[0]);
    const hold = w.tap.hold(digest, 256 * 1024);
    const pulls = Array.from({ length: 8 }, (_, i) =>
      rawGet(`${gw[i % 2]}/v2/d28/lib/concurrent/blobs/${digest}`),
    );
    await within(hold.reached, 20_000, 'the upstream body of the held blob');
    await new Promise((r) => setTimeout(r, 800));
    hold.release();
    const answers = await Promise.all(pulls);
    expect(answers.map((a) => [a.status, a.complete, sha256(a.received)])).toEqual(
      answers.map(() => [200, true, digest]),
    );
    expect({ upstreamFetches: blobFetches(w.tap, digest), seen: w.tap.summary() }).toMatchObject({
      upstreamFetches: 1,
    });
  });

  it('a corrupt blob refused by one gateway is fetched again by the other', async () => {
    const img = makeImage({ layerSizes: [256 * 1024] });
    await seedImage(w.dist, 'lib/corrupt', 'v1', img);
    const digest = sha256(img.layers[0]);
    w.tap.corrupt(digest);
    const bad = await rawGet(`${gw[0]}/v2/d28/lib/corrupt/blobs/${digest}`).catch((e: Error) => e);
    if (!(bad instanceof Error)) expect(bad.status === 200 && bad.complete).toBe(false);
    const before = blobFetches(w.tap, digest);
    w.tap.heal();
    const good = await rawGet(`${gw[1]}/v2/d28/lib/corrupt/blobs/${digest}`);
    expect([good.status, good.complete, sha256(good.received)]).toEqual([200, true, digest]);
    expect(blobFetches(w.tap, digest)).toBe(before + 1);
  });

  it('every gateway refuses pushes into a proxied name', async () => {
    const img = makeImage();
    for (const base of gw) {
      const put = await get(`${base}/v2/d28/lib/x/manifests/v1`, {
        method: 'PUT',
        headers: { 'Content-Type': img.mediaType },
        body: img.body,
      });
      expect(`${put.status} ${put.code}`).toBe('405 UNSUPPORTED');
      const post = await get(`${base}/v2/short/x/blobs/uploads/`, { method: 'POST' });
      expect(`${post.status} ${post.code}`).toBe('405 UNSUPPORTED');
    }
    expect(writesSeen(w.tap)).toEqual([]);
  });
});
