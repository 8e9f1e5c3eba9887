import { BoundedCache } from './bounded-cache';

describe('BoundedCache', () => {
  it('evicts the least recently used entry when the entry bound is passed', () => {
    const cache = new BoundedCache<string>(2, 1000);
    cache.set('a', 'A', 1);
    cache.set('b', 'B', 1);
    expect(cache.get('a')).toBe('A');
    cache.set('c', 'C', 1);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A');
    expect(cache.get('c')).toBe('C');
    expect(cache.size).toBe(2);
  });

  it('evicts oldest entries until the total weight fits', () => {
    const cache = new BoundedCache<string>(100, 10);
    cache.set('a', 'A', 4);
    cache.set('b', 'B', 4);
    cache.set('c', 'C', 4);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.weight).toBe(8);
  });

  it('never keeps a value heavier than the whole cache, and keeps what was there', () => {
    const cache = new BoundedCache<string>(100, 10);
    cache.set('a', 'A', 4);
    cache.set('huge', 'H', 11);
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.get('a')).toBe('A');
  });

  it('replaces a key without counting its old weight twice', () => {
    const cache = new BoundedCache<string>(100, 10);
    cache.set('a', 'A', 6);
    cache.set('a', 'A2', 6);
    expect(cache.get('a')).toBe('A2');
    expect(cache.weight).toBe(6);
  });
});
