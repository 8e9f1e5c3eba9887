/**
 * WHARF_AUTH_MODE=basic: htpasswd users, the per-repository policy, 401 challenges for anonymous
 * callers and 403 DENIED for authenticated callers without the right, over plain HTTP.
 */
import type { TestRegistry } from '../support/registry';
import { startInProcessRegistry } from '../support/in-process';
import {
  AuthFiles,
  basic,
  catalogPages,
  http,
  pushImage,
  sha256,
  sleep,
  tinyImage,
  type TinyImage,
} from './support';

const USERS = {
  alice: 'alice-pw',
  bob: 'bob-pw',
  rita: 'rita-pw',
  victim: 'victim-pw',
  victim2: 'victim2-pw',
};
export const BASIC_POLICY = `
groups:
  readers: [rita]
rules:
  - subjects: [alice]
    repositories: ["alice/**", "public/**"]
    actions: [pull, push, delete]
  - subjects: [bob]
    repositories: ["bob/**"]
    actions: [pull, push]
  - subjects: [anonymous]
    repositories: ["public/**"]
    actions: [pull]
  - subjects: ["group:readers"]
    repositories: ["alice/**"]
    actions: [pull]
  - subjects: ["*"]
    repositories: ["shared/*"]
    actions: [pull]
`;

const as = (user: keyof typeof USERS) => basic(user, USERS[user]);

describe('basic mode', () => {
  let registry: TestRegistry;
  let files: AuthFiles;
  let url: string;
  let image: TinyImage;

  beforeAll(async () => {
    files = new AuthFiles(USERS, BASIC_POLICY);
    registry = await startInProcessRegistry({
      WHARF_AUTH_MODE: 'basic',
      WHARF_AUTH_HTPASSWD: files.htpasswd,
      WHARF_AUTH_POLICY: files.policy,
      WHARF_AUTH_FAILED_LOGIN_LIMIT: '5',
      // Each brute-force test attacks from an address of its own.
      WHARF_AUTH_TRUST_FORWARDED_FOR: 'true',
    });
    url = registry.url;
    image = tinyImage();
    await pushImage(url, 'alice/app', 'v1', image, as('alice'));
    await pushImage(url, 'public/base', 'v1', tinyImage(), as('alice'));
    await pushImage(url, 'bob/tool', 'v1', tinyImage(), as('bob'));
  });

  afterAll(async () => {
    await registry?.stop();
  });

  it('GET /v2/ without credentials answers 401 with the Basic challenge', async () => {
    const r = await http(`${url}/v2/`);
    expect(r.status).toBe(401);
    expect(r.header('www-authenticate')).toBe('Basic realm="wharf"');
    expect(r.header('docker-distribution-api-version')).toBe('registry/2.0');
    expect(r.json().errors[0].code).toBe('UNAUTHORIZED');
  });

  it('GET /v2/ answers 200 to a valid user and 401 to a wrong password or an unknown user', async () => {
    expect((await http(`${url}/v2/`, { headers: as('bob') })).status).toBe(200);
    const wrong = await http(`${url}/v2/`, {
      headers: { ...basic('bob', 'nope'), 'X-Forwarded-For': '10.1.0.1' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.header('www-authenticate')).toBe('Basic realm="wharf"');
    const unknown = await http(`${url}/v2/`, {
      headers: { ...basic('zed', 'x'), 'X-Forwarded-For': '10.1.0.2' },
    });
    expect(unknown.status).toBe(401);
  });

  it('anonymous pull of a protected repository answers 401 UNAUTHORIZED with the access records', async () => {
    const r = await http(`${url}/v2/alice/app/manifests/v1`);
    expect(r.status).toBe(401);
    expect(r.header('www-authenticate')).toBe('Basic realm="wharf"');
    expect(r.json()).toEqual({
      errors: [
        {
          code: 'UNAUTHORIZED',
          message: 'authentication required',
          detail: [{ Type: 'repository', Class: '', Name: 'alice/app', Action: 'pull' }],
        },
      ],
    });
  });

  it('an authenticated user without the right gets 403 DENIED', async () => {
    const r = await http(`${url}/v2/alice/app/manifests/v1`, { headers: as('bob') });
    expect(r.status).toBe(403);
    expect(r.json().errors[0]).toMatchObject({
      code: 'DENIED',
      detail: [{ Type: 'repository', Class: '', Name: 'alice/app', Action: 'pull' }],
    });
    expect(r.header('www-authenticate')).toBeNull();
  });

  it('a group member pulls through the group rule but cannot push', async () => {
    const get = await http(`${url}/v2/alice/app/manifests/v1`, {
      headers: { ...as('rita'), Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(get.status).toBe(200);
    expect(get.header('docker-content-digest')).toBe(image.digest);
    const blob = await http(`${url}/v2/alice/app/blobs/${sha256(image.layer)}`, { headers: as('rita') });
    expect(blob.status).toBe(200);
    await expect(pushImage(url, 'alice/app', 'rita', tinyImage(), as('rita'))).rejects.toThrow(/403/);
  });

  it('anonymous may pull public/** but not push there', async () => {
    expect((await http(`${url}/v2/public/base/manifests/v1`, { headers: { Accept: '*/*' } })).status).toBe(
      200,
    );
    expect((await http(`${url}/v2/public/base/tags/list`)).status).toBe(200);
    const post = await http(`${url}/v2/public/base/blobs/uploads/`, { method: 'POST' });
    expect(post.status).toBe(401);
    expect(post.json().errors[0].detail).toEqual([
      { Type: 'repository', Class: '', Name: 'public/base', Action: 'pull' },
      { Type: 'repository', Class: '', Name: 'public/base', Action: 'push' },
    ]);
  });

  it('empty Basic credentials (what containers/image sends without a login) are anonymous, not a failed login', async () => {
    const empty = basic('', '');
    expect((await http(`${url}/v2/public/base/tags/list`, { headers: empty })).status).toBe(200);
    const r = await http(`${url}/v2/alice/app/tags/list`, { headers: empty });
    expect(r.status).toBe(401);
    expect(r.header('www-authenticate')).toBe('Basic realm="wharf"');
  });

  it('* grants every authenticated user, not anonymous', async () => {
    // Nobody may push to shared/*, so the repository is unknown: 404 means the read was allowed.
    expect((await http(`${url}/v2/shared/lib/tags/list`, { headers: as('bob') })).status).toBe(404);
    expect((await http(`${url}/v2/shared/lib/tags/list`)).status).toBe(401);
  });

  it('delete needs the delete action', async () => {
    const bobs = tinyImage();
    await pushImage(url, 'bob/gone', 'v1', bobs, as('bob'));
    const denied = await http(`${url}/v2/bob/gone/manifests/${bobs.digest}`, {
      method: 'DELETE',
      headers: as('bob'),
    });
    expect(denied.status).toBe(403);
    expect(denied.json().errors[0].detail).toEqual([
      { Type: 'repository', Class: '', Name: 'bob/gone', Action: 'delete' },
    ]);
    const alices = tinyImage();
    await pushImage(url, 'alice/gone', 'v1', alices, as('alice'));
    const ok = await http(`${url}/v2/alice/gone/manifests/${alices.digest}`, {
      method: 'DELETE',
      headers: as('alice'),
    });
    expect(ok.status).toBe(202);
  });

  it('cancelling an upload needs push, not delete', async () => {
    const start = await http(`${url}/v2/bob/tool/blobs/uploads/`, { method: 'POST', headers: as('bob') });
    expect(start.status).toBe(202);
    const location = new URL(start.header('location')!, url).pathname;
    expect((await http(`${url}${location}`, { method: 'DELETE', headers: as('bob') })).status).toBe(204);
  });

  it('a mount from a repository the caller cannot read becomes an ordinary upload (202, not 201)', async () => {
    const layer = sha256(image.layer);
    const r = await http(`${url}/v2/bob/stolen/blobs/uploads/?mount=${layer}&from=alice/app`, {
      method: 'POST',
      headers: as('bob'),
    });
    expect(r.status).toBe(202);
    expect(r.header('docker-upload-uuid')).toBeTruthy();
    expect(
      (await http(`${url}/v2/bob/stolen/blobs/${layer}`, { method: 'HEAD', headers: as('bob') })).status,
    ).toBe(404);
    // Without `from` (an automatic mount), nothing is looked up either.
    const auto = await http(`${url}/v2/bob/stolen/blobs/uploads/?mount=${layer}`, {
      method: 'POST',
      headers: as('bob'),
    });
    expect(auto.status).toBe(202);
  });

  it('a mount from a readable repository still answers 201', async () => {
    const layer = sha256(image.layer);
    const r = await http(`${url}/v2/public/copy/blobs/uploads/?mount=${layer}&from=alice/app`, {
      method: 'POST',
      headers: as('alice'),
    });
    expect(r.status).toBe(201);
    expect(r.header('location')).toContain(`/v2/public/copy/blobs/${layer}`);
  });

  it('the catalog answers 401 to anonymous and lists only what the caller may pull, paginated', async () => {
    expect((await http(`${url}/v2/_catalog`)).status).toBe(401);
    const all = (await http(`${url}/v2/_catalog`, { headers: as('alice') })).json().repositories as string[];
    expect(all).toEqual(expect.arrayContaining(['alice/app', 'public/base']));
    expect(all.every((r) => /^(alice|public|shared)\//.test(r))).toBe(true);
    const bobs = (await http(`${url}/v2/_catalog`, { headers: as('bob') })).json().repositories as string[];
    expect(bobs).toEqual(expect.arrayContaining(['bob/tool']));
    expect(bobs.every((r) => /^(bob|shared)\//.test(r))).toBe(true);
    for (const n of [1, 2]) {
      const pages = await catalogPages(url, n, as('alice'));
      expect(pages.flat()).toEqual(all);
      expect(pages.slice(0, -1).every((p) => p.length === n)).toBe(true);
    }
  });

  it('brute force from one address hits the rate limit: 429 TOOMANYREQUESTS with Retry-After, even for the right password', async () => {
    const from = { 'X-Forwarded-For': '10.9.9.9' };
    for (let i = 0; i < 5; i++) {
      const r = await http(`${url}/v2/`, { headers: { ...basic('victim', `guess-${i}`), ...from } });
      expect(r.status).toBe(401);
    }
    const blocked = await http(`${url}/v2/`, { headers: { ...basic('victim', 'guess-6'), ...from } });
    expect(blocked.status).toBe(429);
    expect(blocked.json().errors[0].code).toBe('TOOMANYREQUESTS');
    expect(Number(blocked.header('retry-after'))).toBeGreaterThan(0);
    const right = await http(`${url}/v2/`, { headers: { ...as('victim'), ...from } });
    expect(right.status).toBe(429);
    // Another address and another user are not affected.
    expect(
      (await http(`${url}/v2/`, { headers: { ...as('bob'), 'X-Forwarded-For': '10.9.9.10' } })).status,
    ).toBe(200);
  });

  it('brute force against one user from many addresses hits the per-user limit', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await http(`${url}/v2/`, {
        headers: { ...basic('victim2', `g${i}`), 'X-Forwarded-For': `10.8.0.${i}` },
      });
      expect(r.status).toBe(401);
    }
    const r = await http(`${url}/v2/`, { headers: { ...as('victim2'), 'X-Forwarded-For': '10.8.1.1' } });
    expect(r.status).toBe(429);
  });

  it('picks up a changed htpasswd and policy without a restart, and keeps the old policy when the new one is broken', async () => {
    files.writeUsers({ ...USERS, newbie: 'newbie-pw' });
    files.writePolicy(`${BASIC_POLICY}
  - subjects: [newbie]
    repositories: ["public/**"]
    actions: [pull, push]
`);
    await sleep(1100);
    await pushImage(url, 'public/newbie', 'v1', tinyImage(), basic('newbie', 'newbie-pw'));

    files.writePolicy(`rules:\n  - subjects: [newbie]\n    actions: [pul]\n`);
    await sleep(1100);
    await pushImage(url, 'public/newbie', 'v2', tinyImage(), basic('newbie', 'newbie-pw'));
    files.writePolicy(BASIC_POLICY);
    await sleep(1100);
    await expect(
      pushImage(url, 'public/newbie', 'v3', tinyImage(), basic('newbie', 'newbie-pw')),
    ).rejects.toThrow(/403/);
  });
});
