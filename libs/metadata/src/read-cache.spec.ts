import { blobUnlinked, repositoryChanged, tagChanged } from '@wharf/contracts';
import { MetadataReadCache, blobKey, manifestKey, tagKey } from './read-cache';

const any = (): boolean => true;

describe('MetadataReadCache', () => {
  it('serves a read from the cache until the tag changes', async () => {
    const cache = new MetadataReadCache({ maxEntries: 10, maxBytes: 1 << 20 });
    let loads = 0;
    const load = async () => ({ digest: `d${++loads}` });
    expect(await cache.read('r', tagKey('r', 't'), any, load)).toEqual({ digest: 'd1' });
    expect(await cache.read('r', tagKey('r', 't'), any, load)).toEqual({ digest: 'd1' });
    cache.apply([tagChanged('r', 't')]);
    expect(await cache.read('r', tagKey('r', 't'), any, load)).toEqual({ digest: 'd2' });
    expect(loads).toBe(2);
  });

  it('does not keep what a read found when a write changed the key while it was reading', async () => {
    const cache = new MetadataReadCache({ maxEntries: 10, maxBytes: 1 << 20 });
    let release!: () => void;
    const slow = cache.read('r', tagKey('r', 't'), any, async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return { digest: 'old' };
    });
    // The PUT that moved the tag commits and invalidates while the read is in flight.
    cache.apply([tagChanged('r', 't')]);
    release();
    expect(await slow).toEqual({ digest: 'old' });
    expect(await cache.read('r', tagKey('r', 't'), any, async () => ({ digest: 'new' }))).toEqual({
      digest: 'new',
    });
  });

  it('drops every tag and manifest of a repository when a manifest is deleted', async () => {
    const cache = new MetadataReadCache({ maxEntries: 10, maxBytes: 1 << 20 });
    await cache.read('r', tagKey('r', 't'), any, async () => ({ v: 1 }));
    await cache.read('r', manifestKey('r', 'sha256:a'), any, async () => ({ v: 1 }));
    await cache.read('other', tagKey('other', 't'), any, async () => ({ v: 1 }));
    cache.apply([repositoryChanged('r')]);
    const v2 = async () => ({ v: 2 });
    expect(await cache.read('r', tagKey('r', 't'), any, v2)).toEqual({ v: 2 });
    expect(await cache.read('r', manifestKey('r', 'sha256:a'), any, v2)).toEqual({ v: 2 });
    expect(await cache.read('other', tagKey('other', 't'), any, v2)).toEqual({ v: 1 });
  });

  it('forgets an unlinked blob', async () => {
    const cache = new MetadataReadCache({ maxEntries: 10, maxBytes: 1 << 20 });
    await cache.read('r', blobKey('r', 'sha256:b'), any, async () => ({ size: 1 }));
    cache.apply([blobUnlinked('r', 'sha256:b')]);
    expect(await cache.read('r', blobKey('r', 'sha256:b'), any, async () => undefined)).toBeUndefined();
  });

  it('never caches absence, so a push is visible at once', async () => {
    const cache = new MetadataReadCache({ maxEntries: 10, maxBytes: 1 << 20 });
    expect(await cache.read('r', tagKey('r', 't'), any, async () => undefined)).toBeUndefined();
    expect(await cache.read('r', tagKey('r', 't'), any, async () => ({ v: 1 }))).toEqual({ v: 1 });
  });

  it('reloads an entry the caller cannot use (a HEAD row without the body a GET needs)', async () => {
    const cache = new MetadataReadCache({ maxEntries: 10, maxBytes: 1 << 20 });
    const withBody = (row: { body: string | null }) => row.body !== null;
    await cache.read('r', tagKey('r', 't'), any, async () => ({ body: null }));
    expect(await cache.read('r', tagKey('r', 't'), withBody, async () => ({ body: 'x' }))).toEqual({
      body: 'x',
    });
  });

  it('answers from the database only while its lease is not usable, and forgets all on flush', async () => {
    const cache = new MetadataReadCache({ maxEntries: 10, maxBytes: 1 << 20 });
    let usable = false;
    cache.holdWith({ usable: () => usable });
    let loads = 0;
    const load = async () => ({ n: ++loads });
    await cache.read('r', tagKey('r', 't'), any, load);
    await cache.read('r', tagKey('r', 't'), any, load);
    expect(loads).toBe(2);
    usable = true;
    await cache.read('r', tagKey('r', 't'), any, load);
    expect(await cache.read('r', tagKey('r', 't'), any, load)).toEqual({ n: 3 });
    cache.flush();
    expect(await cache.read('r', tagKey('r', 't'), any, load)).toEqual({ n: 4 });
  });
});
