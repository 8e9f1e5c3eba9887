import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  exportSigningKeyPem,
  generateSigningKey,
  libtrustKeyId,
  loadSigningKey,
  publicJwk,
  publicJwkJson,
} from './keys';

const KID = /^(?:[A-Z2-7]{4}:){11}[A-Z2-7]{4}$/;

const ecKey = (x: string, y: string) =>
  createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });

describe('libtrust key ids', () => {
  it.each([
    // docs/spec/manifest-v2-1.md of Distribution v2.8.2 (hello-world example)
    [
      '3gAwX48IQ5oaYQAYSxor6rYYc_6yjuLCjtQ9LUakg4A',
      't72ge6kIA1XOjqjVoEOiPPAURltJFBMGDSQvEGVB010',
      'OD6I:6DRK:JXEJ:KBM4:255X:NSAA:MUSF:E4VM:ZI6W:CUN2:L4Z6:LSF4',
    ],
    // keys Docker signed the fixtures with
    [
      'ReC5c0J9tgXSdUL4_xzEt5RsD8kFt2wWSgJcpAcOQx8',
      '3sBGEqQ3ZMeqPKwQBAadN2toOUEASha18xa0WwsDF-M',
      'OZ45:U3IG:TDOI:PMBD:NGP2:LDIW:II2U:PSBI:MMCZ:YZUP:TUUO:XPZT',
    ],
    [
      'NAGHj6-IdNonuFoxlqJnNMjcrCCE1CBoq2r_1NDci68',
      'Kocqgj_Ey5J-wLXTjkuqLC-HjciAnWxsBEziAOTvSPc',
      '6QVR:5NTY:VIHC:W6IU:XYIN:CTKT:OG5R:XEEG:Z6XJ:2623:YCBP:36MA',
    ],
  ])('derives the published kid of x=%s', (x, y, kid) => {
    expect(libtrustKeyId(ecKey(x, y))).toBe(kid);
  });

  it('is 12 groups of 4 base32 characters for generated keys', () => {
    const key = generateSigningKey();
    expect(key.keyId).toMatch(KID);
    expect(key.algorithm).toBe('ES256');
    expect(key.keyId).toBe(libtrustKeyId(key.publicKey));
  });
});

describe('public JWK', () => {
  it('has sorted members crv, kid, kty, x, y with 32-byte coordinates', () => {
    const key = generateSigningKey();
    const jwk = publicJwk(key);
    expect(Object.keys(jwk)).toEqual(['crv', 'kid', 'kty', 'x', 'y']);
    expect(jwk.crv).toBe('P-256');
    expect(jwk.kty).toBe('EC');
    expect(jwk.kid).toBe(key.keyId);
    expect(Buffer.from(jwk.x as string, 'base64url')).toHaveLength(32);
    expect(Buffer.from(jwk.y as string, 'base64url')).toHaveLength(32);
    expect(publicJwkJson(key)).toBe(
      `{"crv":"P-256","kid":"${key.keyId}","kty":"EC","x":"${jwk.x as string}","y":"${jwk.y as string}"}`,
    );
  });

  it('keeps leading zero bytes of coordinates', () => {
    // Find a key whose x starts with a zero byte (about 1 in 256).
    for (let i = 0; i < 5000; i++) {
      const key = generateSigningKey();
      const x = Buffer.from(publicJwk(key).x as string, 'base64url');
      if (x[0] === 0) {
        expect(x).toHaveLength(32);
        return;
      }
    }
    throw new Error('no key with a leading zero found');
  });

  it('describes RSA keys with e, kid, kty, n', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = loadSigningKey(privateKey.export({ format: 'pem', type: 'pkcs1' }) as string);
    expect(key.algorithm).toBe('RS256');
    expect(Object.keys(publicJwk(key))).toEqual(['e', 'kid', 'kty', 'n']);
    expect(publicJwk(key).e).toBe('AQAB');
  });
});

describe('loading signing keys', () => {
  it('round-trips through the SEC1 PEM that libtrust and Distribution read', () => {
    const key = generateSigningKey();
    const pem = exportSigningKeyPem(key);
    expect(pem.startsWith('-----BEGIN EC PRIVATE KEY-----\n')).toBe(true);
    const loaded = loadSigningKey(pem);
    expect(loaded.keyId).toBe(key.keyId);
    expect(publicJwkJson(loaded)).toBe(publicJwkJson(key));
  });

  it('reads PKCS#8 PEM too', () => {
    const key = generateSigningKey();
    const loaded = loadSigningKey(key.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    expect(loaded.keyId).toBe(key.keyId);
  });

  it('carries PEM headers (libtrust writes keyID:) into the signature JWK, as libtrust does', () => {
    const key = generateSigningKey();
    const pem = exportSigningKeyPem(key).replace(
      '-----BEGIN EC PRIVATE KEY-----\n',
      `-----BEGIN EC PRIVATE KEY-----\nkeyID: ${key.keyId}\nhosts: a.example,b.example\n\n`,
    );
    const loaded = loadSigningKey(pem);
    expect(loaded.keyId).toBe(key.keyId);
    expect(Object.keys(publicJwk(loaded))).toEqual(['crv', 'hosts', 'keyID', 'kid', 'kty', 'x', 'y']);
    expect(publicJwkJson(loaded)).toContain(`"hosts":["a.example","b.example"],"keyID":"${key.keyId}","kid"`);
  });

  it('reads a private JWK like Docker key.json, checking kid and keeping unknown members', () => {
    const key = generateSigningKey();
    const jwk = { ...(key.privateKey.export({ format: 'jwk' }) as object), kid: key.keyId, use: 'sig' };
    const loaded = loadSigningKey(JSON.stringify(jwk));
    expect(loaded.keyId).toBe(key.keyId);
    expect(publicJwk(loaded).use).toBe('sig');
    expect(() => loadSigningKey(JSON.stringify({ ...jwk, kid: 'AAAA' }))).toThrow(/does not match/);
  });

  it('rejects what it cannot use', () => {
    expect(() => loadSigningKey('nonsense')).toThrow(/PEM/);
    const { privateKey } = generateKeyPairSync('ed25519');
    expect(() => loadSigningKey(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string)).toThrow(
      /unsupported/,
    );
    expect(() => loadSigningKey('{"kty":"oct","k":"AAAA"}')).toThrow(/not supported/);
    const pub = generateSigningKey().publicKey.export({ format: 'pem', type: 'spki' }) as string;
    expect(() => loadSigningKey(pub)).toThrow(/PUBLIC KEY/);
  });
});
