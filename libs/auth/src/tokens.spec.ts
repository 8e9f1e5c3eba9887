import { createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT, base64url, exportJWK } from 'jose';
import { loadSigningKey, signingKeyFromPem, type SigningKey } from './signing-key';
import { INTERNAL_ISSUER, TokenIssuer, TokenVerifier, externalKeys, parseAccessClaim } from './tokens';

const SERVICE = 'wharf';
const pull = [{ type: 'repository', name: 'team/app', actions: ['pull'] }];

function pemKey(type: 'ec' | 'rsa' | 'ed25519'): string {
  const { privateKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  return privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
}

/** A JWS with whatever header and payload, signed by `sign` over the usual signing input. */
function forge(header: object, payload: object, sign: (input: string) => Buffer | string): string {
  const input = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}`;
  const sig = sign(input);
  return `${input}.${typeof sig === 'string' ? sig : base64url.encode(sig)}`;
}

describe('self-issued tokens', () => {
  let key: SigningKey;
  let issuer: TokenIssuer;
  let verifier: TokenVerifier;
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (extra: object = {}) => ({
    iss: INTERNAL_ISSUER,
    aud: SERVICE,
    sub: 'alice',
    exp: now() + 300,
    iat: now(),
    access: pull,
    ...extra,
  });

  beforeAll(async () => {
    key = await signingKeyFromPem(pemKey('ec'));
    issuer = new TokenIssuer(key, SERVICE, 300_000, 3_600_000);
    verifier = new TokenVerifier(key, SERVICE);
  });

  it('issues a token the verifier accepts with its subject and access', async () => {
    const { token, expiresIn, issuedAt } = await issuer.accessToken('alice', pull);
    expect(expiresIn).toBe(300);
    expect(Date.parse(issuedAt)).toBeLessThanOrEqual(Date.now());
    expect(await verifier.verify(token)).toEqual({
      subject: 'alice',
      access: pull,
      external: false,
      groups: [],
    });
  });

  it('issues anonymous tokens without a subject', async () => {
    const { token } = await issuer.accessToken(null, []);
    expect((await verifier.verify(token))?.subject).toBeNull();
  });

  it.each(['RS256', 'EdDSA'] as const)('signs and verifies with %s keys', async (alg) => {
    const k = await signingKeyFromPem(pemKey(alg === 'RS256' ? 'rsa' : 'ed25519'));
    expect(k.alg).toBe(alg);
    const { token } = await new TokenIssuer(k, SERVICE, 60_000, 60_000).accessToken('bob', pull);
    expect((await new TokenVerifier(k, SERVICE).verify(token))?.subject).toBe('bob');
  });

  it('refuses alg none', async () => {
    const token = new UnsecuredJWT(claims()).encode();
    expect(await verifier.verify(token)).toBeUndefined();
    const forged = forge({ alg: 'none', typ: 'JWT', kid: key.kid }, claims(), () => '');
    expect(await verifier.verify(forged)).toBeUndefined();
  });

  it('refuses HS256 signed with the public key (algorithm confusion)', async () => {
    for (const secret of [
      key.publicKey.export({ format: 'pem', type: 'spki' }) as string,
      JSON.stringify(key.publicJwk),
      Buffer.from(key.publicKey.export({ format: 'der', type: 'spki' })),
    ]) {
      const token = forge({ alg: 'HS256', typ: 'JWT', kid: key.kid }, claims(), (input) =>
        createHmac('sha256', secret).update(input).digest(),
      );
      expect(await verifier.verify(token)).toBeUndefined();
    }
  });

  it('refuses a tampered payload', async () => {
    const { token } = await issuer.accessToken('alice', pull);
    const [h, , s] = token.split('.');
    const widened = base64url.encode(
      JSON.stringify(
        claims({ access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }] }),
      ),
    );
    expect(await verifier.verify(`${h}.${widened}.${s}`)).toBeUndefined();
  });

  it('refuses a token signed by another key', async () => {
    const other = await signingKeyFromPem(pemKey('ec'));
    const { token } = await new TokenIssuer(other, SERVICE, 60_000, 60_000).accessToken('alice', pull);
    expect(await verifier.verify(token)).toBeUndefined();
  });

  it('refuses wrong audience, expired and not-yet-valid tokens, with a minute of leeway', async () => {
    const sign = (c: object) =>
      new SignJWT(c as Record<string, unknown>)
        .setProtectedHeader({ alg: key.alg, kid: key.kid })
        .sign(key.privateKey);
    expect(await verifier.verify(await sign(claims({ aud: 'other' })))).toBeUndefined();
    expect(await verifier.verify(await sign(claims({ exp: now() - 120 })))).toBeUndefined();
    expect(await verifier.verify(await sign(claims({ nbf: now() + 120 })))).toBeUndefined();
    expect(await verifier.verify(await sign(claims({ exp: now() - 30 })))).toBeDefined();
    expect(await verifier.verify(await sign(claims({ nbf: now() + 30 })))).toBeDefined();
    const { exp: _exp, ...noExp } = claims();
    expect(await verifier.verify(await sign(noExp))).toBeUndefined();
  });

  it('refuses a refresh token as an access token and an access token as a refresh token', async () => {
    const refresh = await issuer.refreshToken('alice', 'fp');
    expect(await verifier.verify(refresh)).toBeUndefined();
    expect(await issuer.verifyRefresh(refresh)).toEqual({ subject: 'alice', passwordFingerprint: 'fp' });
    const { token } = await issuer.accessToken('alice', pull);
    expect(await issuer.verifyRefresh(token)).toBeUndefined();
  });

  it('refuses garbage', async () => {
    for (const t of ['', 'a.b.c', 'not a token', `${'x'.repeat(20)}.${'y'.repeat(20)}`])
      expect(await verifier.verify(t)).toBeUndefined();
  });

  it('refuses a malformed access claim', async () => {
    for (const access of [
      {},
      'repository:a:pull',
      [{ type: 'repository', name: 'a', actions: 'pull' }],
      [null],
    ]) {
      const token = await new SignJWT(claims({ access }))
        .setProtectedHeader({ alg: key.alg, kid: key.kid })
        .sign(key.privateKey);
      expect(await verifier.verify(token)).toBeUndefined();
    }
    expect(parseAccessClaim(undefined)).toEqual([]);
  });
});

describe('external issuer tokens', () => {
  let dir: string;
  let own: SigningKey;
  let ext: SigningKey;
  let verifier: TokenVerifier;
  const now = () => Math.floor(Date.now() / 1000);
  const sign = (c: Record<string, unknown>, k: SigningKey = ext) =>
    new SignJWT(c).setProtectedHeader({ alg: k.alg, kid: k.kid }).sign(k.privateKey);
  const claims = (extra: object = {}) => ({
    iss: 'https://idp.example.com',
    aud: 'registry',
    sub: 'ci-bot',
    exp: now() + 300,
    groups: ['ci', 7],
    access: pull,
    ...extra,
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-jwks-'));
    own = await signingKeyFromPem(pemKey('ec'));
    ext = await signingKeyFromPem(pemKey('rsa'));
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(ext.publicKey)), kid: ext.kid }] }));
    verifier = new TokenVerifier(own, SERVICE, {
      issuer: 'https://idp.example.com',
      audience: 'registry',
      keys: await externalKeys(file, () => undefined),
      groupsClaim: 'groups',
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a token of the issuer, with groups from the configured claim', async () => {
    expect(await verifier.verify(await sign(claims()))).toEqual({
      subject: 'ci-bot',
      access: pull,
      external: true,
      groups: ['ci'],
    });
  });

  it('refuses a wrong issuer, a wrong audience, expired and not-yet-valid tokens', async () => {
    expect(await verifier.verify(await sign(claims({ iss: 'https://evil.example.com' })))).toBeUndefined();
    expect(await verifier.verify(await sign(claims({ aud: 'wharf' })))).toBeUndefined();
    expect(await verifier.verify(await sign(claims({ exp: now() - 3600 })))).toBeUndefined();
    expect(await verifier.verify(await sign(claims({ nbf: now() + 3600 })))).toBeUndefined();
  });

  it('refuses a token claiming the external issuer but signed by Wharf’s own key, and vice versa', async () => {
    expect(await verifier.verify(await sign(claims(), own))).toBeUndefined();
    expect(await verifier.verify(await sign(claims({ iss: INTERNAL_ISSUER, aud: SERVICE })))).toBeUndefined();
  });

  it('fetches the issuer’s keys from a JWKS URL', async () => {
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(ext.publicKey)), kid: ext.kid }] });
    const server = createServer((_req, res) =>
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(jwks),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const remote = new TokenVerifier(own, SERVICE, {
        issuer: 'https://idp.example.com',
        audience: 'registry',
        keys: await externalKeys(`http://127.0.0.1:${port}/jwks`, () => undefined),
      });
      expect((await remote.verify(await sign(claims())))?.subject).toBe('ci-bot');
      expect(await remote.verify(await sign(claims({ aud: 'other' })))).toBeUndefined();
    } finally {
      server.close();
    }
  });

  it('refuses HS256 signed with the issuer’s public key', async () => {
    const secret = ext.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const token = forge({ alg: 'HS256', kid: ext.kid }, claims(), (input) =>
      createHmac('sha256', secret).update(input).digest(),
    );
    expect(await verifier.verify(token)).toBeUndefined();
  });
});

describe('token signing key', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'wharf-key-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates an ES256 key once, 0600, and reuses it', async () => {
    const file = join(dir, 'keys', 'token-signing.pem');
    const first = await loadSigningKey(file, true);
    expect(first.alg).toBe('ES256');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = await loadSigningKey(file, true);
    expect(again.kid).toBe(first.kid);
    expect([first.generated, again.generated]).toEqual([true, false]);
  });

  it('requires a configured key file to exist', async () => {
    await expect(loadSigningKey(join(dir, 'missing.pem'), false)).rejects.toThrow(/missing\.pem/);
  });

  it('refuses weak or unsupported keys', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    await expect(signingKeyFromPem(small)).rejects.toThrow(/2048/);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    await expect(signingKeyFromPem(p384)).rejects.toThrow(/P-256/);
  });
});
