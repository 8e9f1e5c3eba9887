/**
 * Pull-through cache, HTTP level, against Distribution 2.8 with htpasswd: both ways of naming
 * upstream content (prefix `d28/<path>` and containerd's `?ns=<host>`), defaultNamespace, every kind
 * of content (images, multi-arch indexes, OCI artifacts), no upstream traffic for what is cached,
 * tags followed after their TTL, and writes into a proxied name refused.
 */
import { randomUUID } from 'node:crypto';
import {
  ACCEPT_ALL,
  makeArtifact,
  makeImage,
  makeIndex,
  MT,
  seedImage,
  seedIndex,
  sha256,
} from './support/seed';
import { D28_NS, SHORT_TTL_MS, startDistWorld, writesSeen, type DistWorld } from './support/setup';
import { expectStatus, get } from './support/wharf';

describe('pull-through cache: names and content', () => {
  let w: DistWorld;
  let base: string;
  const app = makeImage({ layerSizes: [64 * 1024, 1024] });
  const dockerImg = makeImage({ format: 'docker' });
  const index = makeIndex('oci');
  const list = makeIndex('docker');
  const artifact = makeArtifact();

  const manifest = (path: string, ref: string, query = '') =>
    get(`${base}/v2/${path}/manifests/${ref}${query}`, { headers: { Accept: ACCEPT_ALL } });
  const blob = (path: string, digest: string, query = '') =>
    get(`${base}/v2/${path}/blobs/${digest}${query}`);

  /** 200 with exactly `m`'s bytes, digest and type. */
  const expectManifest = async (
    path: string,
    ref: string,
    m: { digest: string; mediaType: string; body: Buffer },
    query = '',
  ) => {
    const r = await manifest(path, ref, query);
    expectStatus(r, 200, `GET /v2/${path}/manifests/${ref}${query}`);
    expect(r.headers.get('docker-content-digest')).toBe(m.digest);
    expect(r.headers.get('content-type')).toBe(m.mediaType);
    expect(r.body.equals(m.body)).toBe(true);
    return r;
  };
  const expectBlob = async (path: string, data: Buffer, query = '') => {
    const r = await blob(path, sha256(data), query);
    expectStatus(r, 200, `GET /v2/${path}/blobs/${sha256(data)}${query}`);
    expect(sha256(r.body)).toBe(sha256(data));
    return r;
  };

  beforeAll(async () => {
    w = await startDistWorld();
    base = w.wharf.url;
    await seedImage(w.dist, 'lib/app', 'v1', app);
    await seedImage(w.dist, 'lib/dock', 'v1', dockerImg);
    await seedIndex(w.dist, 'lib/multi', 'v1', index);
    await seedIndex(w.dist, 'lib/list', 'v1', list);
    await seedImage(w.dist, 'lib/sbom', 'v1', artifact);
  });

  afterEach(() => w.reset());

  afterAll(async () => {
    await w?.dispose();
  });

  describe('prefix form', () => {
    it('serves an image by tag, its blobs, and nothing goes upstream a second time', async () => {
      await expectManifest('d28/lib/app', 'v1', app);
      for (const data of app.blobs.values()) await expectBlob('d28/lib/app', data);
      const head = await get(`${base}/v2/d28/lib/app/blobs/${sha256(app.layers[0])}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(app.layers[0].length));
      expect(w.tap.askedManifests('lib/app')).toBe(true);
      expect(writesSeen(w.tap)).toEqual([]);

      w.tap.resetCounts();
      await expectManifest('d28/lib/app', 'v1', app);
      await expectManifest('d28/lib/app', app.digest, app);
      for (const data of app.blobs.values()) await expectBlob('d28/lib/app', data);
      // Within the tag TTL (default 5 min) a cached pull needs the upstream for nothing.
      expect(w.tap.summary()).toEqual({});
    });

    it('HEAD of an uncached manifest answers with its digest', async () => {
      const img = makeImage();
      await seedImage(w.dist, 'lib/headonly', 'v1', img);
      const r = await get(`${base}/v2/d28/lib/headonly/manifests/v1`, {
        method: 'HEAD',
        headers: { Accept: ACCEPT_ALL },
      });
      expectStatus(r, 200, 'HEAD /v2/d28/lib/headonly/manifests/v1');
      expect(r.headers.get('docker-content-digest')).toBe(img.digest);
      expect(r.headers.get('content-length')).toBe(String(img.body.length));
    });

    it('serves a Docker schema2 image with its media type', async () => {
      await expectManifest('d28/lib/dock', 'v1', dockerImg);
      for (const data of dockerImg.blobs.values()) await expectBlob('d28/lib/dock', data);
    });

    it('serves a multi-arch OCI index, its instances by digest and their blobs', async () => {
      await expectManifest('d28/lib/multi', 'v1', index);
      for (const img of index.images) {
        await expectManifest('d28/lib/multi', img.digest, img);
        for (const data of img.blobs.values()) await expectBlob('d28/lib/multi', data);
      }
    });

    it('serves a Docker manifest list and its instances', async () => {
      await expectManifest('d28/lib/list', 'v1', list);
      for (const img of list.images) await expectManifest('d28/lib/list', img.digest, img);
    });

    it('serves an OCI artifact (artifactType, empty config, non-image layer) unchanged', async () => {
      const r = await expectManifest('d28/lib/sbom', 'v1', artifact);
      expect(JSON.parse(r.body.toString()).artifactType).toBe('application/vnd.example.sbom.v1');
      await expectBlob('d28/lib/sbom', artifact.config);
      await expectBlob('d28/lib/sbom', artifact.layers[0]);
    });

    it('answers 404 MANIFEST_UNKNOWN / BLOB_UNKNOWN for what the upstream does not have', async () => {
      const m = await manifest('d28/lib/app', 'nope');
      expect([m.status, m.code]).toEqual([404, 'MANIFEST_UNKNOWN']);
      const b = await blob('d28/lib/app', sha256(randomUUID()));
      expect([b.status, b.code]).toEqual([404, 'BLOB_UNKNOWN']);
    });
  });

  describe('defaultNamespace', () => {
    it('puts it in front of a one-segment path only', async () => {
      await expectManifest('short/app', 'v1', app);
      await expectBlob('short/app', app.layers[1]);
      expect(w.shortTap.askedManifests('lib/app')).toBe(true);
      await expectManifest('short/lib/multi', 'v1', index);
      expect(w.shortTap.askedManifests('lib/multi')).toBe(true);
      expect(w.shortTap.requests.filter((r) => r.url.includes('/lib/lib/'))).toEqual([]);
    });
  });

  describe("the default upstream (Docker's registry-mirrors)", () => {
    it('serves a name outside every prefix that no local repository has, under its prefix', async () => {
      // Docker asks its daemon-level mirror for `lib/app`, with no hint of the upstream.
      await expectManifest('lib/app', 'v1', app);
      await expectBlob('lib/app', app.layers[0]);
      expect(w.shortTap.askedManifests('lib/app')).toBe(true);
      // Stored as the prefix form's repository: served from there without the upstream.
      w.shortTap.resetCounts();
      await expectManifest('short/lib/app', 'v1', app);
      expect(w.shortTap.requests).toEqual([]);
    });

    it('a local repository of that name is served from here, and the upstream is not asked', async () => {
      const local = makeImage({ layerSizes: [2048] });
      const repo = `lib/local-${randomUUID().slice(0, 8)}`;
      await seedImage({ url: base, pushHeaders: async () => ({}), kind: 'wharf' }, repo, 'v1', local);
      w.shortTap.resetCounts();
      await expectManifest(repo, 'v1', local);
      await expectBlob(repo, local.layers[0]);
      expect(w.shortTap.requests).toEqual([]);
    });

    it('what neither has is 404, with the upstream asked', async () => {
      const r = await manifest(`lib/none-${randomUUID().slice(0, 8)}`, 'v1');
      expect(`${r.status} ${r.code}`).toBe('404 MANIFEST_UNKNOWN');
    });
  });

  describe('?ns= form (containerd mirrors)', () => {
    it('serves from the upstream whose hosts include ns, with OCI-Namespace', async () => {
      const ns = `?ns=${D28_NS}`;
      const r = await expectManifest('lib/multi', 'v1', index, ns);
      expect(r.headers.get('oci-namespace')).toBe(D28_NS);
      const child = await expectManifest('lib/multi', index.images[1].digest, index.images[1], ns);
      expect(child.headers.get('oci-namespace')).toBe(D28_NS);
      const head = await get(`${base}/v2/lib/multi/manifests/v1${ns}`, {
        method: 'HEAD',
        headers: { Accept: ACCEPT_ALL },
      });
      expect([head.status, head.headers.get('docker-content-digest')]).toEqual([200, index.digest]);
      const b = await expectBlob('lib/multi', index.images[1].layers[1], ns);
      expect(b.headers.get('oci-namespace')).toBe(D28_NS);
    });

    it('shares the cache with the prefix form (same local repository)', async () => {
      const img = makeImage();
      await seedImage(w.dist, 'team/shared', 'v1', img);
      await expectManifest('team/shared', 'v1', img, `?ns=${D28_NS}`);
      for (const data of img.blobs.values()) await expectBlob('team/shared', data, `?ns=${D28_NS}`);
      w.tap.resetCounts();
      await expectManifest('d28/team/shared', img.digest, img);
      for (const data of img.blobs.values()) await expectBlob('d28/team/shared', data);
      expect(w.tap.summary()).toEqual({});
    });

    it('an upstream without hosts is reached by its URL host:port', async () => {
      const ns = `?ns=${w.shortTap.host}`;
      const r = await expectManifest('lib/sbom', 'v1', artifact, ns);
      expect(r.headers.get('oci-namespace')).toBe(w.shortTap.host);
      expect(w.shortTap.askedManifests('lib/sbom')).toBe(true);
    });
  });

  describe('tag TTL', () => {
    it('a moved tag is served as cached until the TTL passes, then followed', async () => {
      const first = makeImage();
      const second = makeImage();
      await seedImage(w.dist, 'lib/moving', 'v1', first);
      await expectManifest('short/moving', 'v1', first);
      await seedImage(w.dist, 'lib/moving', 'v1', second);
      await expectManifest('short/moving', 'v1', first);
      await new Promise((r) => setTimeout(r, SHORT_TTL_MS + 500));
      await expectManifest('short/moving', 'v1', second);
      for (const data of second.blobs.values()) await expectBlob('short/moving', data);
      // The old content stays reachable by digest.
      await expectManifest('short/moving', first.digest, first);
    });
  });

  describe('writes into a proxied name', () => {
    const uuid = randomUUID();
    const img = makeImage();
    const OCI = { 'Content-Type': MT.ociManifest };
    const BYTES = { 'Content-Type': 'application/octet-stream' };
    // Every row has all four columns: a test function with more parameters than the row would be
    // taken for one that wants jest's `done` callback.
    const cases: [string, string, (p: string) => string, Record<string, string>][] = [
      ['PUT', 'manifest by tag', (p) => `/v2/${p}/manifests/v9`, OCI],
      ['PUT', 'manifest by digest', (p) => `/v2/${p}/manifests/${img.digest}`, OCI],
      ['DELETE', 'manifest', (p) => `/v2/${p}/manifests/${app.digest}`, {}],
      ['DELETE', 'blob', (p) => `/v2/${p}/blobs/${sha256(app.layers[0])}`, {}],
      ['POST', 'upload', (p) => `/v2/${p}/blobs/uploads/`, {}],
      ['POST', 'monolithic upload', (p) => `/v2/${p}/blobs/uploads/?digest=${sha256(img.config)}`, BYTES],
      ['POST', 'mount', (p) => `/v2/${p}/blobs/uploads/?mount=${sha256(app.layers[0])}&from=d28/lib/app`, {}],
      ['PATCH', 'upload chunk', (p) => `/v2/${p}/blobs/uploads/${uuid}`, BYTES],
      ['PUT', 'upload end', (p) => `/v2/${p}/blobs/uploads/${uuid}?digest=${sha256(img.config)}`, BYTES],
    ];
    it.each(cases)('%s %s: 405 UNSUPPORTED, nothing sent upstream', async (method, _what, path, headers) => {
      for (const [name, query] of [
        ['d28/lib/app', ''],
        ['short/app', ''],
        ['lib/app', `${path('x').includes('?') ? '&' : '?'}ns=${D28_NS}`],
      ]) {
        const body = headers['Content-Type'] ? img.body : undefined;
        const r = await get(`${base}${path(name)}${query}`, { method, headers, body });
        expect({ name, method, answer: `${r.status} ${r.code}` }).toEqual({
          name,
          method,
          answer: '405 UNSUPPORTED',
        });
      }
      expect(writesSeen(w.tap)).toEqual([]);
      expect(writesSeen(w.shortTap)).toEqual([]);
    });

    it('names outside every prefix take pushes as before', async () => {
      const own = makeImage();
      await seedImage({ kind: 'wharf', url: base, pushHeaders: async () => ({}) }, 'own/app', 'v1', own);
      const r = await manifest('own/app', 'v1');
      expectStatus(r, 200, 'GET /v2/own/app/manifests/v1 (pushed to Wharf itself)');
      expect(r.body.equals(own.body)).toBe(true);
      expect(writesSeen(w.tap)).toEqual([]);
    });

    it('a refused delete leaves the cached content in place', async () => {
      await expectManifest('d28/lib/app', 'v1', app);
      await get(`${base}/v2/d28/lib/app/manifests/${app.digest}`, { method: 'DELETE' });
      w.tap.resetCounts();
      await expectManifest('d28/lib/app', app.digest, app);
      expect(w.tap.summary()).toEqual({});
    });
  });
});
