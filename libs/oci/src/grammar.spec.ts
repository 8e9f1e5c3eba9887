import { randomUUID } from 'node:crypto';
import { RegistryError } from './errors';
import {
  assertRepositoryName,
  isValidRepositoryName,
  isValidTag,
  isValidUploadId,
  requireUploadId,
  REPOSITORY_NAME_MAX,
} from './grammar';

describe('repository names', () => {
  it.each([
    'a',
    'library/alpine',
    'a/b/c/d',
    'my-app',
    'my--app',
    'my_app',
    'my__app',
    'my.app',
    'a0/b1.c2_d3__e4-f5',
    '0',
  ])('accepts %p', (name) => {
    expect(isValidRepositoryName(name)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['path traversal', '../x'],
    ['traversal in the middle', 'a/../../b'],
    ['a dot component', 'a/./b'],
    ['upper case', 'A'],
    ['upper case in a later component', 'library/Alpine'],
    ['an empty component', 'a//b'],
    ['a trailing slash', 'a/'],
    ['a leading slash', '/a'],
    ['a leading separator', '-a'],
    ['a trailing separator', 'a-'],
    ['three underscores', 'a___b'],
    ['mixed separators', 'a._b'],
    ['a host:port prefix', 'localhost:5000/a'],
    ['a space', 'a b'],
    ['a backslash', 'a\\b'],
    ['a NUL byte', 'a\0b'],
    ['a newline', 'a\nb'],
  ])('rejects %s (%p)', (_label, name) => {
    expect(isValidRepositoryName(name)).toBe(false);
  });

  it('accepts a name of exactly 255 characters and rejects 256', () => {
    const name255 = `${'a'.repeat(127)}/${'b'.repeat(127)}`;
    expect(name255).toHaveLength(REPOSITORY_NAME_MAX);
    expect(isValidRepositoryName(name255)).toBe(true);
    expect(isValidRepositoryName(`${name255}c`)).toBe(false);
    expect(isValidRepositoryName('a'.repeat(10_000))).toBe(false);
  });

  it('assertRepositoryName throws NAME_INVALID naming the bad name', () => {
    expect(() => assertRepositoryName('library/alpine')).not.toThrow();
    let caught: unknown;
    try {
      assertRepositoryName('../etc');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(RegistryError);
    expect((caught as RegistryError).code).toBe('NAME_INVALID');
    expect((caught as RegistryError).status).toBe(400);
    expect((caught as RegistryError).errors[0].detail).toEqual({ name: '../etc' });
  });

  it('answers quickly for a long almost-valid name (no catastrophic backtracking)', () => {
    // The second input is what an optional separator (D2.8's `[-]*`) would take exponential time on.
    const started = Date.now();
    expect(isValidRepositoryName(`${'a-'.repeat(120)}!`)).toBe(false);
    expect(isValidRepositoryName(`${'a'.repeat(26)}!`)).toBe(false);
    expect(Date.now() - started).toBeLessThan(100);
  });
});

describe('tags', () => {
  it.each(['latest', 'v1.2.3', '_private', 'A', '1', 'a-b_c.d', 'x'.repeat(128)])('accepts %p', (tag) => {
    expect(isValidTag(tag)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['a leading dot', '.INVALID_MANIFEST_NAME'],
    ['a leading dash', '-a'],
    ['129 characters', 'x'.repeat(129)],
    ['a colon', 'a:b'],
    ['a slash', 'a/b'],
    ['a space', 'a b'],
    ['a plus', 'a+b'],
  ])('rejects %s', (_label, tag) => {
    expect(isValidTag(tag)).toBe(false);
  });
});

describe('upload ids', () => {
  it('accepts the lower-case UUIDs the blob service issues', () => {
    expect(isValidUploadId(randomUUID())).toBe(true);
    expect(requireUploadId('3f2a1b4c-0000-4000-8000-00000000000a')).toBe(
      '3f2a1b4c-0000-4000-8000-00000000000a',
    );
  });

  it.each([
    ['empty', ''],
    ['2,600 characters', 'a'.repeat(2600)],
    ['upper case', '3F2A1B4C-0000-4000-8000-00000000000A'],
    ['no dashes', '3f2a1b4c000040008000000000000000'],
    ['a trailing newline', '3f2a1b4c-0000-4000-8000-00000000000a\n'],
    ['a path', '../3f2a1b4c-0000-4000-8000-00000000000a'],
  ])('refuses %s with 404 BLOB_UPLOAD_UNKNOWN', (_label, id) => {
    expect(isValidUploadId(id)).toBe(false);
    expect(() => requireUploadId(id)).toThrow(
      expect.objectContaining({
        code: 'BLOB_UPLOAD_UNKNOWN',
        status: 404,
        errors: [expect.objectContaining({ detail: { id } })],
      }),
    );
  });
});
