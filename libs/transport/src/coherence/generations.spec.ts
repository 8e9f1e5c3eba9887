import { repositoryChanged, tagChanged } from '@wharf/contracts';
import { GenerationCache, invalidate, tagKey } from './generations';

describe('GenerationCache', () => {
  it('stays within its entry and weight bounds, oldest out first', () => {
    const cache = new GenerationCache<object>(3, 100);
    for (let i = 0; i < 5; i++) cache.set(`k${i}`, cache.ticket('r', `k${i}`), { i }, 10);
    expect(cache.size).toBe(3);
    expect(cache.get('r', 'k0')).toBeUndefined();
    expect(cache.get('r', 'k4')).toEqual({ i: 4 });
    cache.set('big', cache.ticket('r', 'big'), { big: true }, 95);
    expect(cache.size).toBe(1);
    cache.set('huge', cache.ticket('r', 'huge'), { huge: true }, 101);
    expect(cache.get('r', 'huge')).toBeUndefined();
  });

  it('drops every variant of a key with its invalidation key, and nothing else', () => {
    const cache = new GenerationCache<string>(10, 1000);
    const gen = tagKey('r', 't');
    for (const variant of ['a', 'b']) cache.set(`${gen}\0${variant}`, cache.ticket('r', gen), variant, 1);
    cache.set(tagKey('r', 'u'), cache.ticket('r', tagKey('r', 'u')), 'u', 1);
    invalidate(cache, [tagChanged('r', 't')]);
    expect(cache.get('r', `${gen}\0a`, gen)).toBeUndefined();
    expect(cache.get('r', `${gen}\0b`, gen)).toBeUndefined();
    expect(cache.get('r', tagKey('r', 'u'))).toBe('u');
    invalidate(cache, [repositoryChanged('r')]);
    expect(cache.get('r', tagKey('r', 'u'))).toBeUndefined();
  });

  it('refuses what a read found once the cache was flushed while it was reading', () => {
    const cache = new GenerationCache<string>(10, 1000);
    const ticket = cache.ticket('r', 'k');
    cache.flush();
    cache.set('k', ticket, 'old', 1);
    expect(cache.get('r', 'k')).toBeUndefined();
    cache.set('k', cache.ticket('r', 'k'), 'new', 1);
    expect(cache.get('r', 'k')).toBe('new');
  });
});
