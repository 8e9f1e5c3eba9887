import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { MiB } from './content';
import { RandomContent } from './proxy-pull-client';
import { parseProxyPullOptions } from './proxy-pull-options';

const all = (c: RandomContent, from?: number, to?: number) => Buffer.concat([...c.slices(from, to)]);

describe('RandomContent', () => {
  it('yields the same bytes for a range as the whole blob has there, and its digest is theirs', () => {
    const c = new RandomContent('a', 2 * MiB + 37);
    const whole = all(c);
    expect(whole.length).toBe(c.size);
    for (const [from, to] of [
      [0, 5],
      [3, 70],
      [MiB - 7, MiB + 9],
      [MiB + 16, 2 * MiB + 37],
    ]) {
      expect(all(c, from, to).equals(whole.subarray(from, to))).toBe(true);
    }
    expect(c.digest()).toBe(`sha256:${createHash('sha256').update(whole).digest('hex')}`);
  });

  it('differs per seed and does not compress', () => {
    const a = all(new RandomContent('a', 64 * 1024));
    const b = all(new RandomContent('b', 64 * 1024));
    expect(a.equals(b)).toBe(false);
    expect(gzipSync(a).length).toBeGreaterThan(a.length);
  });
});

describe('parseProxyPullOptions', () => {
  it('defaults to 7 rounds over 8 images of 4 × 16 MiB, 3 downloads', () => {
    const o = parseProxyPullOptions([], '/d');
    expect(o).toMatchObject({ rounds: 7, images: 8, layers: 4, layerSize: 16 * MiB, downloads: 3 });
    expect(o.wharfMain).toBe('/d/apps/registry/src/main.js');
  });

  it('needs an image per round plus the warm-up', () => {
    expect(parseProxyPullOptions(['--rounds', '2', '--layer-size', '8m'], '/d')).toMatchObject({
      images: 3,
      layerSize: 8 * MiB,
    });
    expect(() => parseProxyPullOptions(['--rounds', '3', '--images', '3'], '/d')).toThrow('--images');
    expect(() => parseProxyPullOptions(['--rounds', '0'], '/d')).toThrow('--rounds');
  });
});
