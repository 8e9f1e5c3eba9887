import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import {
  digestOf,
  EMPTY_BLOB_DIGEST,
  EMPTY_JSON_DIGEST,
  GZIPPED_EMPTY_TAR,
  GZIPPED_EMPTY_TAR_DIGEST,
  isDigest,
  isSupportedDigestAlgorithm,
  parseDigest,
  sha256,
} from './digest';

const HEX64 = 'a'.repeat(64);
const HEX128 = 'b'.repeat(128);

describe('parseDigest', () => {
  it('splits a sha256 digest into algorithm and encoded part', () => {
    expect(parseDigest(`sha256:${HEX64}`)).toEqual({ algorithm: 'sha256', encoded: HEX64 });
  });

  it('accepts a sha512 digest of 128 hex characters', () => {
    expect(parseDigest(`sha512:${HEX128}`)).toEqual({ algorithm: 'sha512', encoded: HEX128 });
  });

  it.each([
    ['a multi-part algorithm', 'multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8'],
    ['an unknown algorithm', 'blake3:abc123'],
    ['a separator-joined algorithm', 'sha256.v2_x-y:AbC=_-'],
    ['an algorithm named like an Object.prototype property', 'constructor:abc'],
  ])('accepts %s (syntactically valid, unregistered)', (_label, value) => {
    expect(parseDigest(value)).not.toBeNull();
  });

  it.each([
    ['empty', ''],
    ['no colon', HEX64],
    ['no algorithm', `:${HEX64}`],
    ['no encoded part', 'sha256:'],
    ['sha256 with upper-case hex', `sha256:${'A'.repeat(64)}`],
    ['sha256 one character short', `sha256:${'a'.repeat(63)}`],
    ['sha256 one character long', `sha256:${'a'.repeat(65)}`],
    ['sha256 with non-hex characters', `sha256:${'g'.repeat(64)}`],
    ['sha512 with 64 characters', `sha512:${HEX64}`],
    ['the conformance suite bad digest', 'sha256:totallywrong'],
    ['an upper-case algorithm', `SHA256:${HEX64}`],
    ['a trailing separator in the algorithm', `sha256+:${HEX64}`],
    ['two colons', `sha256:${HEX64}:x`],
    ['a slash in the encoded part', 'foo:ab/cd'],
    ['a path traversal', 'sha256:../../etc'],
    ['whitespace', ` sha256:${HEX64}`],
    ['a newline at the end', `sha256:${HEX64}\n`],
  ])('rejects %s', (_label, value) => {
    expect(parseDigest(value)).toBeNull();
    expect(isDigest(value)).toBe(false);
  });
});

describe('hashing', () => {
  it('sha256 returns the prefixed lower-case hex of node:crypto', () => {
    const data = Buffer.from('hello');
    expect(sha256(data)).toBe(`sha256:${createHash('sha256').update(data).digest('hex')}`);
    expect(isDigest(sha256(data))).toBe(true);
  });

  it('digestOf computes sha512 on request and refuses algorithms it cannot compute', () => {
    expect(digestOf('x', 'sha512')).toMatch(/^sha512:[a-f0-9]{128}$/);
    expect(() => digestOf('x', 'md5')).toThrow(/md5/);
  });

  it('supports sha256 and sha512 only', () => {
    expect(isSupportedDigestAlgorithm('sha256')).toBe(true);
    expect(isSupportedDigestAlgorithm('sha512')).toBe(true);
    expect(isSupportedDigestAlgorithm('sha384')).toBe(false);
    expect(isSupportedDigestAlgorithm('blake3')).toBe(false);
  });
});

describe('well-known content', () => {
  it('EMPTY_BLOB_DIGEST is the digest of zero bytes', () => {
    expect(sha256(Buffer.alloc(0))).toBe(EMPTY_BLOB_DIGEST);
  });

  it('EMPTY_JSON_DIGEST is the digest of {}', () => {
    expect(sha256(Buffer.from('{}'))).toBe(EMPTY_JSON_DIGEST);
  });

  it('GZIPPED_EMPTY_TAR is 32 bytes, has the schema1 digest and decompresses to 1024 zero bytes', () => {
    expect(GZIPPED_EMPTY_TAR).toHaveLength(32);
    expect(sha256(GZIPPED_EMPTY_TAR)).toBe(GZIPPED_EMPTY_TAR_DIGEST);
    expect(gunzipSync(GZIPPED_EMPTY_TAR).equals(Buffer.alloc(1024))).toBe(true);
  });
});
