import { RegistryError } from './errors';
import { parsePageSize } from './pagination';

describe('parsePageSize', () => {
  it('reads a non-negative integer', () => {
    expect(parsePageSize('0')).toBe(0);
    expect(parsePageSize('25', { max: 100 })).toBe(25);
    expect(parsePageSize('007')).toBe(7);
  });

  it('uses the default when n is absent or empty', () => {
    expect(parsePageSize(undefined, { defaultSize: 100 })).toBe(100);
    expect(parsePageSize('', { defaultSize: 100 })).toBe(100);
    expect(parsePageSize(undefined)).toBeUndefined();
  });

  it('clamps to max rather than failing', () => {
    expect(parsePageSize('1001', { max: 1000 })).toBe(1000);
    expect(parsePageSize('1000', { max: 1000 })).toBe(1000);
    expect(parsePageSize('99999999999999999999999', { max: 1000 })).toBe(1000);
  });

  it.each(['-1', '1.5', 'abc', '1e3', ' 5', '0x10', '+5', '99999999999999999999999'])(
    'rejects %p with 400 PAGINATION_NUMBER_INVALID',
    (n) => {
      let caught: unknown;
      try {
        parsePageSize(n);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(RegistryError);
      expect((caught as RegistryError).code).toBe('PAGINATION_NUMBER_INVALID');
      expect((caught as RegistryError).status).toBe(400);
      expect((caught as RegistryError).errors[0].detail).toEqual({ n });
    },
  );
});
