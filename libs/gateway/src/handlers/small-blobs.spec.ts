import { Readable } from 'node:stream';
import { SmallBlobCache } from './small-blobs';

const bytes = (n: number, fill = 1) => Buffer.alloc(n, fill);

describe('SmallBlobCache', () => {
  it('reads a blob once and answers later GETs from memory', async () => {
    const cache = new SmallBlobCache(1024, 256);
    let opened = 0;
    const open = async () => {
      opened++;
      return Readable.from([bytes(50), bytes(50, 2)]);
    };
    const a = await cache.get('sha256:a', 100, open);
    const b = await cache.get('sha256:a', 100, open);
    expect(opened).toBe(1);
    expect(b).toBe(a);
    expect(a.subarray(49, 51)).toEqual(Buffer.from([1, 2]));
  });

  it('opens the store once for concurrent misses of one blob', async () => {
    const cache = new SmallBlobCache(1024, 256);
    let opened = 0;
    const open = async () => {
      opened++;
      await new Promise((r) => setTimeout(r, 10));
      return Readable.from([bytes(10)]);
    };
    await Promise.all([1, 2, 3].map(() => cache.get('sha256:a', 10, open)));
    expect(opened).toBe(1);
  });

  it('evicts the least recently used blob when full', async () => {
    const cache = new SmallBlobCache(300, 200);
    const opens: string[] = [];
    const get = (d: string) =>
      cache.get(d, 100, async () => {
        opens.push(d);
        return Readable.from([bytes(100)]);
      });
    await get('a');
    await get('b');
    await get('c');
    await get('a'); // a is now the most recent; b the least
    await get('d'); // evicts b
    expect(cache.size()).toBe(300);
    await get('a');
    await get('c');
    await get('b');
    expect(opens).toEqual(['a', 'b', 'c', 'd', 'b']);
  });

  it('keeps nothing when the store answers fewer or more bytes than recorded', async () => {
    const cache = new SmallBlobCache(1024, 256);
    await expect(cache.get('short', 10, async () => Readable.from([bytes(9)]))).rejects.toThrow(/9 bytes/);
    await expect(cache.get('long', 10, async () => Readable.from([bytes(11)]))).rejects.toThrow(/longer/);
    expect(cache.size()).toBe(0);
    // The next GET tries the store again instead of sharing the failure.
    await expect(cache.get('short', 10, async () => Readable.from([bytes(10)]))).resolves.toHaveLength(10);
  });

  it('holds only blobs up to its entry limit, and no empty ones', () => {
    const cache = new SmallBlobCache(1024, 256);
    expect(cache.holds(256)).toBe(true);
    expect(cache.holds(257)).toBe(false);
    expect(cache.holds(0)).toBe(false);
  });
});
