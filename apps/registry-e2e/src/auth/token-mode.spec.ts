/**
 * WHARF_AUTH_MODE=token: the built-in token service (GET and OAuth2 POST forms, refresh tokens),
 * Bearer challenges exactly as Distribution spells them, tokens from an external issuer, and the
 * security cases that must fail closed.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT, base64url, exportJWK, importJWK, type KeyLike } from 'jose';
import type { TestRegistry } from '../support/registry';
import { startInProcessRegistry } from '../support/in-process';
import {
  AuthFiles,
  bearer,
  catalogPages,
  fetchToken,
  http,
  jwtPayload,
  pushImage,
  sha256,
  tinyImage,
  tokenFor,
  type TinyImage,
} from './support';

const USERS = { alice: 'alice-pw', bob: 'bob-pw', dora: 'dora-pw', victim: 'victim-pw' };
const POLICY = `
groups:
  builders: [bob]
rules:
  - subjects: [alice]
    repositories: ["alice/**", "public/**"]
    actions: [pull, push, delete]
  - subjects: [bob, dora]
    repositories: ["bob/**"]
    actions: [pull, push]
  - subjects: [anonymous]
    repositories: ["public/**"]
    actions: [pull]
  - subjects: ["group:ci"]
    repositories: ["ci/**"]
    actions: [pull, push]
`;
const EXT_ISSUER = 'https://idp.example.test';
const EXT_AUDIENCE = 'wharf-registry';

const alice = { user: 'alice', password: USERS.alice };
const bob = { user: 'bob', password: USERS.bob };

describe('token mode', () => {
  let registry: TestRegistry;
  let url: string;
  let realm: string;
  let files: AuthFiles;
  let image: TinyImage;
  let extKey: KeyLike;
  const extKid = 'ext-1';

  /** A token as the external issuer would sign it; `claims` override the valid defaults. */
  const external = (claims: Record<string, unknown> = {}, key: KeyLike = extKey, kid = extKid) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: EXT_ISSUER,
      aud: EXT_AUDIENCE,
      sub: 'ci-runner',
      exp: now + 300,
      nbf: now - 5,
      groups: ['ci'],
      access: [{ type: 'repository', name: 'ci/app', actions: ['pull', 'push'] }],
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid })
      .sign(key);
  };

  beforeAll(async () => {
    files = new AuthFiles(USERS, POLICY);
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    extKey = keys.privateKey;
    const jwks = join(mkdtempSync(join(tmpdir(), 'wharf-idp-')), 'jwks.json');
    writeFileSync(
      jwks,
      JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: extKid, alg: 'RS256' }] }),
    );
    registry = await startInProcessRegistry({
      WHARF_AUTH_MODE: 'token',
      WHARF_AUTH_HTPASSWD: files.htpasswd,
      WHARF_AUTH_POLICY: files.policy,
      WHARF_AUTH_TOKEN_ISSUER: EXT_ISSUER,
      WHARF_AUTH_TOKEN_AUDIENCE: EXT_AUDIENCE,
      WHARF_AUTH_TOKEN_JWKS: jwks,
      WHARF_AUTH_GROUPS_CLAIM: 'groups',
      WHARF_AUTH_FAILED_LOGIN_LIMIT: '3',
      WHARF_AUTH_TRUST_FORWARDED_FOR: 'true',
    });
    url = registry.url;
    realm = `${url}/auth/token`;
    image = tinyImage();
    const push = await tokenFor(url, ['repository:alice/app:pull,push'], alice);
    await pushImage(url, 'alice/app', 'v1', image, bearer(push));
    const pub = await tokenFor(url, ['repository:public/base:pull,push'], alice);
    await pushImage(url, 'public/base', 'v1', tinyImage(), bearer(pub));
    const bobs = await tokenFor(url, ['repository:bob/tool:pull,push'], bob);
    await pushImage(url, 'bob/tool', 'v1', tinyImage(), bearer(bobs));
  });

  afterAll(async () => {
    await registry?.stop();
  });

  describe('challenges', () => {
    it('GET /v2/ without a token answers 401 Bearer with realm and service, no scope', async () => {
      const r = await http(`${url}/v2/`);
      expect(r.status).toBe(401);
      expect(r.header('www-authenticate')).toBe(`Bearer realm="${realm}",service="wharf"`);
    });

    it('GET /v2/ answers 200 to any valid token, anonymous ones included', async () => {
      expect((await http(`${url}/v2/`, { headers: bearer(await tokenFor(url, [])) })).status).toBe(200);
      expect((await http(`${url}/v2/`, { headers: bearer(await tokenFor(url, [], alice)) })).status).toBe(
        200,
      );
    });

    it('a pull without a token names the scope it needs', async () => {
      const r = await http(`${url}/v2/alice/app/manifests/v1`);
      expect(r.status).toBe(401);
      expect(r.header('www-authenticate')).toBe(
        `Bearer realm="${realm}",service="wharf",scope="repository:alice/app:pull"`,
      );
      expect(r.json().errors[0]).toEqual({
        code: 'UNAUTHORIZED',
        message: 'authentication required',
        detail: [{ Type: 'repository', Class: '', Name: 'alice/app', Action: 'pull' }],
      });
    });

    it('an upload without a token asks for pull,push', async () => {
      const r = await http(`${url}/v2/alice/app/blobs/uploads/`, { method: 'POST' });
      expect(r.header('www-authenticate')).toBe(
        `Bearer realm="${realm}",service="wharf",scope="repository:alice/app:pull,push"`,
      );
    });

    it('builds the realm from X-Forwarded-Proto and X-Forwarded-Host', async () => {
      const r = await http(`${url}/v2/`, {
        headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'registry.example.com' },
      });
      expect(r.header('www-authenticate')).toBe(
        'Bearer realm="https://registry.example.com/auth/token",service="wharf"',
      );
    });

    it('anonymous callers may pull what the policy gives anonymous, even without a token', async () => {
      expect((await http(`${url}/v2/public/base/tags/list`)).status).toBe(200);
    });
  });

  describe('token service', () => {
    it('grants the intersection of the requested scopes and the policy; a partial grant is not an error', async () => {
      const r = await fetchToken(
        url,
        ['repository:alice/app:pull,push', 'repository:bob/tool:pull', 'repository:public/base:delete'],
        alice,
      );
      expect(r.status).toBe(200);
      expect(r.header('cache-control')).toBe('no-store');
      const body = r.json();
      expect(body.token).toBe(body.access_token);
      expect(body.expires_in).toBe(300);
      expect(Date.parse(body.issued_at)).not.toBeNaN();
      expect(body.refresh_token).toBeUndefined();
      const claims = jwtPayload(body.token);
      expect(claims).toMatchObject({ sub: 'alice', aud: 'wharf', iss: 'wharf-token-service' });
      expect(claims.access).toEqual([
        { type: 'repository', name: 'alice/app', actions: ['pull', 'push'] },
        { type: 'repository', name: 'public/base', actions: ['delete'] },
      ]);
    });

    it('reads several scopes in one parameter and names with a port', async () => {
      const r = await fetchToken(
        url,
        ['repository:alice/app:pull repository:localhost:5000/alice/app:pull'],
        alice,
      );
      expect(jwtPayload(r.json().token).access).toEqual([
        { type: 'repository', name: 'alice/app', actions: ['pull'] },
      ]);
    });

    it('issues anonymous tokens with what the policy gives anonymous', async () => {
      const r = await fetchToken(url, ['repository:public/base:pull,push', 'repository:alice/app:pull']);
      expect(r.status).toBe(200);
      const claims = jwtPayload(r.json().token);
      expect(claims.sub).toBeUndefined();
      expect(claims.access).toEqual([{ type: 'repository', name: 'public/base', actions: ['pull'] }]);
    });

    it('answers 401 with a Basic challenge to wrong credentials', async () => {
      const r = await http(`${url}/auth/token?service=wharf`, {
        headers: {
          Authorization: `Basic ${Buffer.from('alice:wrong').toString('base64')}`,
          'X-Forwarded-For': '10.2.0.1',
        },
      });
      expect(r.status).toBe(401);
      expect(r.header('www-authenticate')).toBe('Basic realm="wharf"');
      expect(r.text).not.toContain('wrong');
    });

    it('answers 400 to a malformed scope and to another service', async () => {
      expect((await fetchToken(url, ['repository:alice/app'], alice)).status).toBe(400);
      expect((await fetchToken(url, [], alice, { service: 'elsewhere' })).status).toBe(400);
    });

    it('issues a refresh token for offline_token=true and exchanges it with the POST form', async () => {
      const r = await fetchToken(url, [], { user: 'dora', password: USERS.dora }, { offline_token: 'true' });
      const refresh = r.json().refresh_token as string;
      expect(refresh).toBeTruthy();
      // A refresh token is no access token.
      expect((await http(`${url}/v2/`, { headers: bearer(refresh) })).status).toBe(401);
      const post = await http(`${url}/auth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refresh,
          service: 'wharf',
          client_id: 'e2e',
          scope: 'repository:bob/tool:pull repository:alice/app:pull',
        }).toString(),
      });
      expect(post.status).toBe(200);
      const body = post.json();
      expect(body.scope).toBe('repository:bob/tool:pull');
      expect(body.refresh_token).toBe(refresh);
      expect(jwtPayload(body.access_token).sub).toBe('dora');
      const get = await http(`${url}/v2/bob/tool/tags/list`, { headers: bearer(body.access_token) });
      expect(get.status).toBe(200);
    });

    it('revokes refresh tokens when the password changes', async () => {
      const r = await fetchToken(url, [], { user: 'dora', password: USERS.dora }, { offline_token: 'true' });
      const refresh = r.json().refresh_token as string;
      files.writeUsers({ ...USERS, dora: 'dora-new-pw' });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const post = await http(`${url}/auth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `grant_type=refresh_token&service=wharf&client_id=e2e&refresh_token=${refresh}`,
      });
      expect(post.status).toBe(401);
      files.writeUsers(USERS);
    });

    it('accepts the OAuth2 password grant and access_type=offline', async () => {
      const post = await http(`${url}/auth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'password',
          username: 'alice',
          password: USERS.alice,
          service: 'wharf',
          client_id: 'e2e',
          access_type: 'offline',
          scope: 'repository:alice/app:pull',
        }).toString(),
      });
      expect(post.status).toBe(200);
      expect(post.json()).toMatchObject({ scope: 'repository:alice/app:pull', expires_in: 300 });
      expect(post.json().refresh_token).toBeTruthy();
    });

    it('publishes its key as a JWKS, and keeps the generated key 0600 in the data directory', async () => {
      const r = await http(`${url}/auth/jwks.json`);
      expect(r.status).toBe(200);
      const [jwk] = r.json().keys;
      expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(jwk.d).toBeUndefined();
      const token = await tokenFor(url, [], alice);
      const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
      expect(header).toEqual({ alg: 'ES256', kid: jwk.kid, typ: 'JWT' });
      expect(statSync(join(registry.dataDir!, 'keys', 'token-signing.pem')).mode & 0o777).toBe(0o600);
    });

    it('brute force against the token service hits the rate limit: 429 with Retry-After', async () => {
      const from = { 'X-Forwarded-For': '10.7.7.7' };
      const attempt = (password: string) =>
        http(`${url}/auth/token?service=wharf`, {
          headers: {
            Authorization: `Basic ${Buffer.from(`victim:${password}`).toString('base64')}`,
            ...from,
          },
        });
      for (let i = 0; i < 3; i++) expect((await attempt(`guess${i}`)).status).toBe(401);
      const blocked = await attempt(USERS.victim);
      expect(blocked.status).toBe(429);
      expect(blocked.json().errors[0].code).toBe('TOOMANYREQUESTS');
      expect(Number(blocked.header('retry-after'))).toBeGreaterThan(0);
    });
  });

  describe('fails closed', () => {
    const pullManifest = (headers: Record<string, string>) =>
      http(`${url}/v2/alice/app/manifests/v1`, { headers: { ...headers, Accept: '*/*' } });
    const expectInvalid = async (token: string) => {
      const r = await pullManifest(bearer(token));
      expect(r.status).toBe(401);
      expect(r.header('www-authenticate')).toBe(
        `Bearer realm="${realm}",service="wharf",scope="repository:alice/app:pull",error="invalid_token"`,
      );
    };
    const ownClaims = () => ({
      iss: 'wharf-token-service',
      aud: 'wharf',
      sub: 'alice',
      exp: Math.floor(Date.now() / 1000) + 300,
      access: [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push', 'delete'] }],
    });

    it('a valid token for the repository pulls (the baseline for the cases below)', async () => {
      const r = await pullManifest(bearer(await tokenFor(url, ['repository:alice/app:pull'], alice)));
      expect(r.status).toBe(200);
      expect(r.header('docker-content-digest')).toBe(image.digest);
    });

    it('refuses alg none', async () => {
      await expectInvalid(new UnsecuredJWT(ownClaims()).encode());
      const forged = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(
        JSON.stringify(ownClaims()),
      )}.`;
      await expectInvalid(forged);
    });

    it('refuses HS256 signed with the published public key (algorithm confusion)', async () => {
      const [jwk] = (await http(`${url}/auth/jwks.json`)).json().keys;
      const publicKey = (await importJWK(jwk, 'ES256')) as KeyLike & { export(o: object): string | Buffer };
      for (const secret of [
        publicKey.export({ format: 'pem', type: 'spki' }),
        JSON.stringify(jwk),
        publicKey.export({ format: 'der', type: 'spki' }),
      ]) {
        const input = `${base64url.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: jwk.kid }))}.${base64url.encode(
          JSON.stringify(ownClaims()),
        )}`;
        const sig = base64url.encode(createHmac('sha256', secret).update(input).digest());
        await expectInvalid(`${input}.${sig}`);
      }
    });

    it('refuses a tampered payload', async () => {
      const token = await tokenFor(url, ['repository:alice/app:pull'], bob);
      expect(jwtPayload(token).access).toEqual([]);
      const [h, , s] = token.split('.');
      const widened = { ...jwtPayload(token), sub: 'alice', access: ownClaims().access };
      await expectInvalid(`${h}.${base64url.encode(JSON.stringify(widened))}.${s}`);
    });

    it('refuses a token for repository A on repository B (insufficient_scope)', async () => {
      // Alice may pull alice/other by policy; the token names only alice/app.
      const forA = await tokenFor(url, ['repository:alice/app:pull'], alice);
      const r = await http(`${url}/v2/alice/other/tags/list`, { headers: bearer(forA) });
      expect(r.status).toBe(401);
      expect(r.header('www-authenticate')).toBe(
        `Bearer realm="${realm}",service="wharf",scope="repository:alice/other:pull",error="insufficient_scope"`,
      );
    });

    it('refuses a pull token used to push (insufficient_scope)', async () => {
      const token = await tokenFor(url, ['repository:alice/app:pull'], alice);
      const r = await http(`${url}/v2/alice/app/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
      expect(r.status).toBe(401);
      expect(r.header('www-authenticate')).toBe(
        `Bearer realm="${realm}",service="wharf",scope="repository:alice/app:pull,push",error="insufficient_scope"`,
      );
      await expect(pushImage(url, 'alice/app', 'x', tinyImage(), bearer(token))).rejects.toThrow(/401/);
    });

    it('refuses garbage and a non-Bearer scheme as invalid tokens', async () => {
      await expectInvalid('garbage');
      const r = await pullManifest({ Authorization: 'Digest foo' });
      expect(r.header('www-authenticate')).toContain('error="invalid_token"');
    });

    it('turns a mount from a repository the caller cannot read into an ordinary upload (202, not 201)', async () => {
      const layer = sha256(image.layer);
      // What a client asks for a mount: push on the target, pull on the source. Bob gets only the first.
      const token = await tokenFor(url, ['repository:bob/copy:pull,push', 'repository:alice/app:pull'], bob);
      expect(jwtPayload(token).access).toEqual([
        { type: 'repository', name: 'bob/copy', actions: ['pull', 'push'] },
      ]);
      const r = await http(`${url}/v2/bob/copy/blobs/uploads/?mount=${layer}&from=alice/app`, {
        method: 'POST',
        headers: bearer(token),
      });
      expect(r.status).toBe(202);
      expect((await http(`${url}/v2/bob/copy/blobs/${layer}`, { headers: bearer(token) })).status).toBe(404);

      const allowed = await tokenFor(
        url,
        ['repository:public/copy:pull,push', 'repository:alice/app:pull'],
        alice,
      );
      const ok = await http(`${url}/v2/public/copy/blobs/uploads/?mount=${layer}&from=alice/app`, {
        method: 'POST',
        headers: bearer(allowed),
      });
      expect(ok.status).toBe(201);
    });

    describe('external issuer', () => {
      it('accepts a token of the configured issuer, intersected with the policy, groups from the claim', async () => {
        const token = await external();
        await pushImage(url, 'ci/app', 'v1', tinyImage(), bearer(token));
        // The token names ci/app; ci/other is in the policy but not in the token.
        const other = await http(`${url}/v2/ci/other/tags/list`, { headers: bearer(token) });
        expect(other.status).toBe(401);
        expect(other.header('www-authenticate')).toContain('error="insufficient_scope"');
        // The token names alice/app, the policy does not give ci-runner alice/**.
        const wide = await external({
          access: [{ type: 'repository', name: 'alice/app', actions: ['pull'] }],
        });
        expect((await pullManifest(bearer(wide))).status).toBe(401);
        // Without the group, the policy gives ci-runner nothing.
        const noGroup = await external({ groups: [] });
        expect((await http(`${url}/v2/ci/app/tags/list`, { headers: bearer(noGroup) })).status).toBe(401);
      });

      it.each([
        ['a wrong issuer', { iss: 'https://evil.example.test' }],
        ['a wrong audience', { aud: 'wharf' }],
        ['an expired token', { exp: Math.floor(Date.now() / 1000) - 3600 }],
        ['a not-yet-valid token', { nbf: Math.floor(Date.now() / 1000) + 3600 }],
      ])('refuses %s', async (_what, claims) => {
        const r = await http(`${url}/v2/ci/app/tags/list`, { headers: bearer(await external(claims)) });
        expect(r.status).toBe(401);
        expect(r.header('www-authenticate')).toContain('error="invalid_token"');
      });

      it('refuses a token signed by another key under the issuer’s kid', async () => {
        const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
        const r = await http(`${url}/v2/ci/app/tags/list`, { headers: bearer(await external({}, other)) });
        expect(r.status).toBe(401);
      });
    });
  });

  describe('catalog', () => {
    it('asks anonymous callers for registry:catalog:*', async () => {
      const r = await http(`${url}/v2/_catalog`);
      expect(r.status).toBe(401);
      expect(r.header('www-authenticate')).toBe(
        `Bearer realm="${realm}",service="wharf",scope="registry:catalog:*"`,
      );
    });

    it('answers an invalid token on the catalog with invalid_token and the catalog scope', async () => {
      const r = await http(`${url}/v2/_catalog`, { headers: bearer('not.a.token') });
      expect(r.status).toBe(401);
      expect(r.header('www-authenticate')).toBe(
        `Bearer realm="${realm}",service="wharf",scope="registry:catalog:*",error="invalid_token"`,
      );
    });

    it('refuses a token without the catalog scope', async () => {
      const r = await http(`${url}/v2/_catalog`, {
        headers: bearer(await tokenFor(url, ['repository:alice/app:pull'], alice)),
      });
      expect(r.status).toBe(401);
      expect(r.header('www-authenticate')).toContain('error="insufficient_scope"');
    });

    it('grants registry:catalog:* to any authenticated user and lists only what they may pull', async () => {
      const bobs = await tokenFor(url, ['registry:catalog:*'], bob);
      expect(jwtPayload(bobs).access).toEqual([{ type: 'registry', name: 'catalog', actions: ['*'] }]);
      const repos = (await http(`${url}/v2/_catalog`, { headers: bearer(bobs) })).json().repositories;
      expect(repos).toEqual(['bob/tool']);
      const anon = await tokenFor(url, ['registry:catalog:*']);
      expect(jwtPayload(anon).access).toEqual([]);
      const alices = await tokenFor(url, ['registry:catalog:*'], alice);
      const pages = await catalogPages(url, 1, bearer(alices));
      expect(pages.flat()).toEqual(['alice/app', 'public/base']);
    });
  });
});
