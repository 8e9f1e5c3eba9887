/**
 * Listings: GET /v2/<name>/tags/list and GET /v2/_catalog, with `n` / `last` pagination and Link
 * (PROTOCOL.md §2.5, §2.6).
 */
import { startTestRegistry, type TestRegistry } from '../support/registry';
import { MT, RegistryClient, buildImage, expectError, randomBlob, type Response } from './support/client';

// Byte order puts digits before upper case, `_` between upper and lower case, and `-` < `.` < digits.
const TAGS = [
  'latest',
  'Latest',
  'LATEST',
  'v1.0',
  'v1-0',
  'v1_0',
  'v10',
  'v9',
  '_under',
  '0',
  'a',
  'B',
  'b',
  'Z-9.x_y',
];
const SORTED = [...TAGS].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe('listings', () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  const repo = 'listings/tags';

  beforeAll(async () => {
    registry = await startTestRegistry();
    client = new RegistryClient(registry.url);
    const image = await client.pushImage(repo, {});
    for (const tag of TAGS) await client.pushManifest(repo, tag, image.manifest, MT.ociManifest);
  });

  afterAll(async () => {
    client?.close();
    await registry?.stop();
  });

  /** `</v2/...?last=x&n=2>; rel="next"` → `/v2/...?last=x&n=2` */
  function nextLink(res: Response): string | undefined {
    const link = res.header('link');
    if (!link) return undefined;
    const m = /^<([^>]+)>;\s*rel="next"$/.exec(link);
    if (!m) throw new Error(`malformed Link header: ${link}`);
    const u = new URL(m[1], 'http://relative.invalid');
    return u.pathname + u.search;
  }

  async function walk(
    first: string,
    key: 'tags' | 'repositories',
  ): Promise<{ items: string[]; pages: number }> {
    const items: string[] = [];
    let pages = 0;
    for (let path: string | undefined = first; path; pages++) {
      const res = await client.get(path);
      expect(res.status).toBe(200);
      items.push(...res.json()[key]);
      path = nextLink(res);
      if (pages > 100) throw new Error('pagination does not end');
    }
    return { items, pages };
  }

  describe('tags list', () => {
    it('answers 200 with the name and every tag in byte order', async () => {
      const res = await client.get(`/v2/${repo}/tags/list`);
      expect(res.status).toBe(200);
      expect(res.header('content-type')).toMatch(/^application\/json/);
      expect(res.json()).toEqual({ name: repo, tags: SORTED });
      expect(res.header('link')).toBeUndefined();
    });

    it('n=0 answers an empty list and no Link', async () => {
      const res = await client.get(`/v2/${repo}/tags/list?n=0`);
      expect(res.status).toBe(200);
      expect(res.json().tags).toEqual([]);
      expect(res.header('link')).toBeUndefined();
    });

    it.each([1, 3, 5, TAGS.length - 1])(
      'n=%i answers exactly n tags and a Link to the next page',
      async (n) => {
        const res = await client.get(`/v2/${repo}/tags/list?n=${n}`);
        expect(res.status).toBe(200);
        expect(res.json().tags).toEqual(SORTED.slice(0, n));
        expect(res.header('link')).toBe(
          `</v2/${repo}/tags/list?last=${encodeURIComponent(SORTED[n - 1])}&n=${n}>; rel="next"`,
        );
      },
    );

    it('n at or above the number of tags answers every tag and no Link', async () => {
      for (const n of [TAGS.length, TAGS.length + 10]) {
        const res = await client.get(`/v2/${repo}/tags/list?n=${n}`);
        expect(res.json().tags).toEqual(SORTED);
        expect(res.header('link')).toBeUndefined();
      }
    });

    it.each([1, 2, 4, 5])(
      'following the Link with n=%i reaches every tag exactly once, in order',
      async (n) => {
        const { items, pages } = await walk(`/v2/${repo}/tags/list?n=${n}`, 'tags');
        expect(items).toEqual(SORTED);
        expect(pages).toBe(Math.ceil(TAGS.length / n));
      },
    );

    it('last is exclusive and n is optional with it', async () => {
      const i = 4;
      const res = await client.get(`/v2/${repo}/tags/list?last=${encodeURIComponent(SORTED[i])}`);
      expect(res.json().tags).toEqual(SORTED.slice(i + 1));
      const page = await client.get(`/v2/${repo}/tags/list?n=2&last=${encodeURIComponent(SORTED[i])}`);
      expect(page.json().tags).toEqual(SORTED.slice(i + 1, i + 3));
    });

    it('last that is not an existing tag continues after where it would sort', async () => {
      const res = await client.get(`/v2/${repo}/tags/list?last=M`);
      expect(res.json().tags).toEqual(SORTED.filter((t) => t > 'M'));
    });

    it('last after every tag answers an empty list', async () => {
      const res = await client.get(`/v2/${repo}/tags/list?last=zzz`);
      expect(res.status).toBe(200);
      expect(res.json().tags).toEqual([]);
    });

    it('an unknown repository answers 404 NAME_UNKNOWN', async () => {
      expectError(await client.get('/v2/listings/never-pushed/tags/list'), 404, 'NAME_UNKNOWN');
    });

    it('a repository that has only blobs answers 404 NAME_UNKNOWN, like one with no manifest ever pushed', async () => {
      await client.pushBlob('listings/blobs-only', randomBlob(10));
      expectError(await client.get('/v2/listings/blobs-only/tags/list'), 404, 'NAME_UNKNOWN');
      const refused = buildImage();
      expect(
        (await client.putManifest('listings/refused', 'x', refused.manifest, MT.ociManifest)).status,
      ).toBe(400);
      expectError(await client.get('/v2/listings/refused/tags/list'), 404, 'NAME_UNKNOWN');
    });

    it('a repository whose manifests are untagged answers 200 with no tags', async () => {
      const image = await client.pushImage('listings/untagged', {});
      const res = await client.get('/v2/listings/untagged/tags/list');
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ name: 'listings/untagged', tags: [] });
      expect(image.digest).toMatch(/^sha256:/);
    });

    it.each(['-1', 'abc', '1.5', '1e3', '0x10', ' 2'])(
      'n=%s answers 400 PAGINATION_NUMBER_INVALID',
      async (n) => {
        expectError(
          await client.get(`/v2/${repo}/tags/list?n=${encodeURIComponent(n)}`),
          400,
          'PAGINATION_NUMBER_INVALID',
        );
      },
    );

    it('a tag deleted from the repository disappears from the list', async () => {
      const r = 'listings/tag-delete';
      const image = await client.pushImage(r, { tag: 'keep' });
      await client.pushManifest(r, 'drop', image.manifest, MT.ociManifest);
      expect((await client.delete(`/v2/${r}/manifests/drop`)).status).toBe(202);
      expect((await client.get(`/v2/${r}/tags/list`)).json().tags).toEqual(['keep']);
    });

    it('HEAD answers 200 with no body', async () => {
      const res = await client.head(`/v2/${repo}/tags/list`);
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(0);
    });
  });

  describe('catalog', () => {
    // Repositories created above plus these; names chosen so byte order is not insertion order.
    const extra = ['listings/z', 'listings/a-b', 'listings/a/b', 'listings/a.b', 'other/x', 'a'];

    beforeAll(async () => {
      for (const name of extra) await client.pushImage(name, { tag: 'v1' });
    });

    async function expected(): Promise<string[]> {
      // Every repository with at least one manifest; blobs alone do not make one.
      const names = [repo, 'listings/tag-delete', 'listings/untagged', ...extra];
      return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    }

    it('lists only repositories with manifests, in byte order', async () => {
      const res = await client.get('/v2/_catalog');
      expect(res.status).toBe(200);
      expect(res.header('content-type')).toMatch(/^application\/json/);
      expect(res.json()).toEqual({ repositories: await expected() });
      expect(res.json().repositories).not.toContain('listings/blobs-only');
      expect(res.header('link')).toBeUndefined();
    });

    it('n=0 answers an empty list and no Link', async () => {
      const res = await client.get('/v2/_catalog?n=0');
      expect(res.status).toBe(200);
      expect(res.json().repositories).toEqual([]);
      expect(res.header('link')).toBeUndefined();
    });

    it('n=k answers exactly k repositories and a Link', async () => {
      const all = await expected();
      const res = await client.get('/v2/_catalog?n=3');
      expect(res.json().repositories).toEqual(all.slice(0, 3));
      expect(res.header('link')).toBe(`</v2/_catalog?last=${encodeURIComponent(all[2])}&n=3>; rel="next"`);
    });

    it.each([1, 2, 4])('following the Link with n=%i reaches every repository exactly once', async (n) => {
      const { items } = await walk(`/v2/_catalog?n=${n}`, 'repositories');
      expect(items).toEqual(await expected());
    });

    it('last is exclusive', async () => {
      const all = await expected();
      const res = await client.get(`/v2/_catalog?last=${encodeURIComponent(all[1])}`);
      expect(res.json().repositories).toEqual(all.slice(2));
    });

    it.each(['-1', 'abc'])('n=%s answers 400 PAGINATION_NUMBER_INVALID', async (n) => {
      expectError(await client.get(`/v2/_catalog?n=${n}`), 400, 'PAGINATION_NUMBER_INVALID');
    });

    it('a repository whose manifests were all deleted leaves the catalog', async () => {
      const image = await client.pushImage('listings/gone', { tag: 'x' });
      expect((await client.get('/v2/_catalog')).json().repositories).toContain('listings/gone');
      expect((await client.delete(`/v2/listings/gone/manifests/${image.digest}`)).status).toBe(202);
      expect((await client.get('/v2/_catalog')).json().repositories).not.toContain('listings/gone');
    });

    it.each(['POST', 'DELETE', 'PUT'])('%s answers 405 UNSUPPORTED', async (method) => {
      expectError(await client.request(method, '/v2/_catalog'), 405, 'UNSUPPORTED');
      expectError(await client.request(method, `/v2/${repo}/tags/list`), 405, 'UNSUPPORTED');
    });
  });
});
