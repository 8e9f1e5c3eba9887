import { looksLikeDigest, parseReference } from './reference';

const DIGEST = `sha256:${'0'.repeat(64)}`;

describe('parseReference', () => {
  it('reads a valid digest as a digest', () => {
    expect(parseReference(DIGEST)).toEqual({ kind: 'digest', digest: DIGEST });
  });

  it('reads a valid tag as a tag', () => {
    expect(parseReference('v1.0')).toEqual({ kind: 'tag', tag: 'v1.0' });
  });

  it('reads a tag that happens to be hex as a tag', () => {
    expect(parseReference('0'.repeat(64))).toEqual({ kind: 'tag', tag: '0'.repeat(64) });
  });

  it.each(['.INVALID_MANIFEST_NAME', '', 'a/b', 'sha256:totallywrong', 'x'.repeat(129)])(
    'returns null for %p',
    (ref) => {
      expect(parseReference(ref)).toBeNull();
    },
  );
});

describe('looksLikeDigest', () => {
  it('tells a malformed digest (400) from an invalid tag (404)', () => {
    expect(looksLikeDigest('sha256:totallywrong')).toBe(true);
    expect(looksLikeDigest('.INVALID_MANIFEST_NAME')).toBe(false);
  });
});
