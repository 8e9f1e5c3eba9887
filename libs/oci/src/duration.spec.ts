import { parseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['0s', 0],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['168h', 604_800_000],
  ])('reads %p as %p ms', (value, expected) => {
    expect(parseDuration(value)).toBe(expected);
  });

  it.each(['', '10', 's', '1.5s', '-1s', '1d', '10 s', ' 10s', '1H', '1h30m', `${'9'.repeat(20)}h`])(
    'rejects %p, naming the value',
    (value) => {
      expect(() => parseDuration(value)).toThrow(JSON.stringify(value));
    },
  );
});
