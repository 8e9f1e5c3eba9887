/**
 * Pull-through cache when the upstream misbehaves (Distribution 2.8 behind a tap that breaks it on
 * demand): concurrent pulls of an uncached blob fetch it once, a corrupted blob is never stored, a
 * client or an upstream going away mid-layer never leaves half a blob, 429 and 5xx are passed on
 * for what is not cached while cached content keeps being served, also when the upstream is down
 * and after a restart of Wharf.
 */
import { makeImage, seedImage, sha256, ACCEPT_ALL, type Image } from './support/seed';
import { blobFetches, within, SHORT_TTL_MS, startDistWorld, type DistWorld } from './support/setup';
import { expectStatus, get, rawGet } from './support/wharf';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pull-through cache: upstream faults', () => {
  let w: DistWorld;
  let base: string;

  const manifest = (path: string, ref: string) =>
    get(`${base}/v2/${path}/manifests/${ref}`, { headers: { Accept: ACCEPT_ALL } });
  const blobUrl = (path: string, digest: string) => `${base}/v2/${path}/blobs/${digest}`;

  /** Pulls manifest (by tag) and every blob through the cache, checking the bytes. */
  const pullAll = async (path: string, tag: string, img: Image) => {
    const m = await manifest(path, tag);
    expectStatus(m, 200, `GET /v2/${path}/manifests/${tag}`);
    expect(m.headers.get('docker-content-digest')).toBe(img.digest);
    for (const [digest, data] of img.blobs) {
      const b = await get(blobUrl(path, digest));
      expectStatus(b, 200, `GET /v2/${path}/blobs/${digest}`);
      expect(b.body.equals(data)).toBe(true);
    }
  };

  /** A blob pulled through the cache: complete and intact, whatever happened before. */
  const expectIntact = async (path: string, data: Buffer) => {
    const r = await rawGet(blobUrl(path, sha256(data)));
    expect({ status: r.status, complete: r.complete, digest: sha256(r.received) }).toEqual({
      status: 200,
      complete: true,
      digest: sha256(data),
    });
  };

  beforeAll(async () => {
    w = await startDistWorld();
    base = w.wharf.url;
  });

  afterEach(() => w.reset());

  afterAll(async () => {
    await w?.dispose();
  });

  it('N concurrent GETs of an uncached blob fetch it from the upstream once', async () => {
    const img = makeImage({ layerSizes: [2 * MiB] });
    await seedImage(w.dist, 'lib/concurrent', 'v1', img);
    const digest = sha256(img.layers[0]);
    // Stalling the upstream body keeps the fill open until every request has arrived.
    const hold = w.tap.hold(digest, 256 * 1024);
    const pulls = Array.from({ length: 8 }, () => rawGet(blobUrl('d28/lib/concurrent', digest)));
    await within(hold.reached, 20_000, 'the upstream body of the held blob');
    await sleep(500);
    hold.release();
    const answers = await Promise.all(pulls);
    expect(answers.map((a) => [a.status, a.complete, sha256(a.received)])).toEqual(
      answers.map(() => [200, true, digest]),
    );
    expect({ upstreamFetches: blobFetches(w.tap, digest), seen: w.tap.summary() }).toMatchObject({
      upstreamFetches: 1,
    });
  });

  it('a blob whose bytes do not match its digest is cut short and not stored', async () => {
    const img = makeImage({ layerSizes: [512 * 1024] });
    await seedImage(w.dist, 'lib/corrupt', 'v1', img);
    const digest = sha256(img.layers[0]);
    w.tap.corrupt(digest);
    const r = await rawGet(blobUrl('d28/lib/corrupt', digest)).catch((e: Error) => e);
    if (!(r instanceof Error)) {
      // Cut short: the connection went away before the last bytes (or an error status).
      expect({ status: r.status, complete: r.status === 200 && r.complete }).toMatchObject({
        complete: false,
      });
      expect(sha256(r.received)).not.toBe(digest);
    }
    const fetchedCorrupt = blobFetches(w.tap, digest);
    expect(fetchedCorrupt).toBeGreaterThanOrEqual(1);
    w.tap.heal();
    await expectIntact('d28/lib/corrupt', img.layers[0]);
    // Fetched again: the corrupt copy was not kept.
    expect(blobFetches(w.tap, digest)).toBe(fetchedCorrupt + 1);
  });

  it('a client that disconnects mid-layer: the layer is completed or abandoned, never half-stored', async () => {
    const img = makeImage({ layerSizes: [4 * MiB] });
    await seedImage(w.dist, 'lib/gone', 'v1', img);
    const digest = sha256(img.layers[0]);
    const hold = w.tap.hold(digest, MiB);
    // Gone while the upstream body is stalled, whether or not the cache streams bytes through yet.
    const ac = new AbortController();
    const client = rawGet(blobUrl('d28/lib/gone', digest), { signal: ac.signal }).catch((e: Error) => e);
    await within(hold.reached, 20_000, 'the upstream body of the held blob');
    await sleep(300);
    ac.abort();
    const seen = await client;
    // An abort error comes from Node's realm, not jest's: recognised by shape, not instanceof.
    if ('complete' in seen) expect(seen.complete).toBe(false);
    hold.release();
    await sleep(1000);
    // With the upstream failing, the cache has the whole layer or nothing: 200 intact, or 503.
    w.tap.fail(503);
    const during = await rawGet(blobUrl('d28/lib/gone', digest));
    if (during.status === 200) {
      expect({ complete: during.complete, digest: sha256(during.received) }).toEqual({
        complete: true,
        digest,
      });
    } else {
      expect(during.status).toBe(503);
    }
    w.tap.heal();
    await expectIntact('d28/lib/gone', img.layers[0]);
    expect([1, 2]).toContain(blobFetches(w.tap, digest));
  });

  it('an upstream that goes away mid-layer leaves nothing stored; the next pull fetches again', async () => {
    const img = makeImage({ layerSizes: [2 * MiB] });
    await seedImage(w.dist, 'lib/cut', 'v1', img);
    const digest = sha256(img.layers[0]);
    const hold = w.tap.hold(digest, 512 * 1024);
    const client = rawGet(blobUrl('d28/lib/cut', digest)).catch((e: Error) => e);
    await within(hold.reached, 20_000, 'the upstream body of the held blob');
    await w.tap.stop();
    const r = await client;
    if (!(r instanceof Error) && r.status === 200) {
      expect(r.complete).toBe(false);
    }
    await w.tap.start();
    w.tap.heal();
    await expectIntact('d28/lib/cut', img.layers[0]);
    expect(blobFetches(w.tap, digest)).toBe(2);
  });

  describe('errors for content that is not cached', () => {
    let img: Image;
    beforeAll(async () => {
      img = makeImage();
      await seedImage(w.dist, 'lib/errors', 'v1', img);
    });

    it('upstream 429 -> 429 TOOMANYREQUESTS naming the upstream reason', async () => {
      w.tap.fail(429, '7');
      for (const [what, r] of [
        ['manifest', await manifest('d28/lib/errors', 'v1')],
        ['blob', await get(blobUrl('d28/lib/errors', sha256(img.layers[0])))],
      ] as const) {
        expect({ what, answer: `${r.status} ${r.code}` }).toEqual({ what, answer: '429 TOOMANYREQUESTS' });
        expect(r.message).toMatch(/429/);
        expect(r.message).toMatch(/rate limit exceeded/);
      }
    });

    it.each([503, 500, 502] as const)(
      'upstream %i -> 503 UNAVAILABLE naming the upstream reason',
      async (status) => {
        w.tap.fail(status);
        const r = await manifest('d28/lib/errors', 'v1');
        expect(`${r.status} ${r.code}`).toBe('503 UNAVAILABLE');
        expect(r.message).toContain(String(status));
      },
    );

    it('upstream refusing connections -> 503 UNAVAILABLE', async () => {
      await w.tap.stop();
      try {
        const r = await manifest('d28/lib/errors', 'v1');
        expect(`${r.status} ${r.code}`).toBe('503 UNAVAILABLE');
        const b = await get(blobUrl('d28/lib/errors', sha256(img.layers[0])));
        expect(`${b.status} ${b.code}`).toBe('503 UNAVAILABLE');
      } finally {
        await w.tap.start();
      }
    });

    it('after the upstream recovers the same pull succeeds (errors are not cached)', async () => {
      await pullAll('d28/lib/errors', 'v1', img);
    });
  });

  it('cached content is served while the upstream answers 429 or 503, tags past their TTL too', async () => {
    const img = makeImage();
    await seedImage(w.dist, 'lib/cached', 'v1', img);
    await pullAll('short/cached', 'v1', img);
    await sleep(SHORT_TTL_MS + 300);
    for (const status of [429, 503] as const) {
      w.tap.fail(status);
      w.shortTap.fail(status);
      await pullAll('short/cached', 'v1', img);
      const byDigest = await manifest('short/cached', img.digest);
      expectStatus(byDigest, 200, `GET by digest while upstream answers ${status}`);
    }
  });

  it('upstream stopped: cached pulls work, also after a Wharf restart; uncached ones answer 503', async () => {
    const cached = makeImage({ layerSizes: [300 * 1024] });
    const uncached = makeImage();
    await seedImage(w.dist, 'lib/offline', 'v1', cached);
    await seedImage(w.dist, 'lib/offline-new', 'v1', uncached);
    await pullAll('d28/lib/offline', 'v1', cached);
    await pullAll('short/offline', 'v1', cached);
    await w.dist.stop();
    try {
      await pullAll('d28/lib/offline', 'v1', cached);
      const miss = await manifest('d28/lib/offline-new', 'v1');
      expect(`${miss.status} ${miss.code}`).toBe('503 UNAVAILABLE');

      await w.wharf.restart();
      await sleep(SHORT_TTL_MS + 300);
      await pullAll('d28/lib/offline', 'v1', cached);
      // Past its TTL, the tag cannot be checked upstream: the cached one is served.
      await pullAll('short/offline', 'v1', cached);
      const missAfter = await manifest('d28/lib/offline-new', 'v1');
      expect(`${missAfter.status} ${missAfter.code}`).toBe('503 UNAVAILABLE');
    } finally {
      await w.dist.start();
    }
    // Back up: what was missing is fetched now.
    await pullAll('d28/lib/offline-new', 'v1', uncached);
    expect((await manifest('d28/lib/offline', 'v1')).status).toBe(200);
  });
});
