/**
 * Whatever a client sends, the registry answers with the spec's status and the JSON error envelope,
 * never a 500, and never touches anything outside its data directory (DESIGN.md "Rules that keep
 * it correct"). Paths are sent raw over node:http, so `..` and `//` reach the server unnormalised.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../support/registry';
import {
  MT,
  RegistryClient,
  buildImage,
  descriptorOf,
  expectError,
  expectHeadError,
  jsonBytes,
  randomBlob,
  sha256,
  withQuery,
  type Response,
} from './support/client';
import { storageRoot } from './support/storage';

const OCTET = { 'Content-Type': 'application/octet-stream' };
const HEX = 'ab'.repeat(32);
const DIGEST = `sha256:${HEX}`;
const UUID = '00000000-0000-4000-8000-000000000000';

/** The envelope, when there is a body to look at; every code in it upper-case letters and `_`. */
function expectEnvelopeIfBody(res: Response, what: string): void {
  if (res.body.length === 0) return;
  let body: { errors?: { code?: unknown; message?: unknown }[] } | undefined;
  try {
    body = res.json();
  } catch {
    throw new Error(`${what}: ${res.status} with a body that is not JSON: ${res.text().slice(0, 200)}`);
  }
  if (!Array.isArray(body?.errors) || body!.errors.length === 0) {
    throw new Error(`${what}: ${res.status} without the error envelope: ${res.text().slice(0, 200)}`);
  }
  for (const e of body!.errors) {
    if (typeof e.code !== 'string' || !/^[A-Z_]+$/.test(e.code))
      throw new Error(`${what}: bad code ${String(e.code)}`);
  }
}

describe('hostile input', () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  let parentBefore: string[];

  beforeAll(async () => {
    registry = await startTestRegistry();
    client = new RegistryClient(registry.url);
    parentBefore = readdirSync(dirname(registry.dataDir!));
  });

  afterAll(async () => {
    client?.close();
    await registry?.stop();
  });

  describe('repository names', () => {
    const BAD_NAMES = [
      '../x',
      'a/../../b',
      './x',
      'x/..',
      'x/.',
      '..',
      'A',
      'Upper/case',
      'a//b',
      'a/',
      '-a',
      'a-',
      'a..b',
      '_a',
      'a/_b',
      '.hidden',
      'a%2fb',
      '%2e%2e/x',
      'a%20b',
      'a:b',
      'x'.repeat(256),
      `${'a'.repeat(250)}/${'b'.repeat(5)}`,
    ];

    it.each(BAD_NAMES)('%s answers 400 NAME_INVALID on every endpoint', async (name) => {
      const requests: [string, string, Buffer?][] = [
        ['POST', `/v2/${name}/blobs/uploads/`],
        ['POST', `/v2/${name}/blobs/uploads/?digest=${sha256('x')}`, Buffer.from('x')],
        ['GET', `/v2/${name}/blobs/${DIGEST}`],
        ['DELETE', `/v2/${name}/blobs/${DIGEST}`],
        ['GET', `/v2/${name}/blobs/uploads/${UUID}`],
        ['PATCH', `/v2/${name}/blobs/uploads/${UUID}`, Buffer.from('x')],
        ['PUT', `/v2/${name}/blobs/uploads/${UUID}?digest=${DIGEST}`],
        ['GET', `/v2/${name}/manifests/latest`],
        ['PUT', `/v2/${name}/manifests/latest`, Buffer.from('{}')],
        ['DELETE', `/v2/${name}/manifests/${DIGEST}`],
        ['GET', `/v2/${name}/tags/list`],
        ['GET', `/v2/${name}/referrers/${DIGEST}`],
      ];
      for (const [method, path, body] of requests) {
        const res = await client.request(method, path, { body, headers: OCTET });
        expectError(res, 400, 'NAME_INVALID');
      }
      expectHeadError(await client.head(`/v2/${name}/blobs/${DIGEST}`), 400);
    });

    it('a name of exactly 255 characters is valid', async () => {
      const name = `${'a'.repeat(127)}/${'b'.repeat(127)}`;
      expect(name).toHaveLength(255);
      expect((await client.post(`/v2/${name}/blobs/uploads/`)).status).toBe(202);
    });

    it('nothing was created on disk outside the data directory, and no such repository exists', async () => {
      const parent = dirname(registry.dataDir!);
      for (const escaped of ['x', 'b', 'hidden', '.hidden']) {
        if (!parentBefore.includes(escaped)) expect(existsSync(join(parent, escaped))).toBe(false);
      }
      // Only the storage root and what the registry keeps beside it live in the data directory;
      // the layout never uses a repository name.
      expect(readdirSync(registry.dataDir!).every((e) => !/^(x|b|\.\.?|a|A|Upper)$/.test(e))).toBe(true);
      for (const e of readdirSync(storageRoot(registry)))
        expect(['blobs', 'uploads', 'tmp', 'store-id']).toContain(e);
      const catalog = (await client.get('/v2/_catalog')).json().repositories as string[];
      expect(catalog).toEqual([]);
    });
  });

  describe('digests', () => {
    const MALFORMED = [
      'sha256:abc',
      `sha256:${'A'.repeat(64)}`,
      `sha256:${'a'.repeat(63)}`,
      `sha256:${'a'.repeat(65)}`,
      `SHA256:${HEX}`,
      'sha256',
      `:${HEX}`,
      'sha256:',
      `sha256:${HEX.slice(0, 60)}zzzz`,
      `sha512:${HEX}`,
      'sha256:totallywrong',
      `sha256:${HEX}%00`,
    ];

    it.each(MALFORMED)('%s answers 400 DIGEST_INVALID wherever a digest is expected', async (digest) => {
      const repo = 'hostile/digests';
      expectError(await client.get(`/v2/${repo}/blobs/${digest}`), 400, 'DIGEST_INVALID');
      expectError(await client.delete(`/v2/${repo}/blobs/${digest}`), 400, 'DIGEST_INVALID');
      expectError(await client.get(`/v2/${repo}/referrers/${digest}`), 400, 'DIGEST_INVALID');
      expectError(
        await client.post(`/v2/${repo}/blobs/uploads/?digest=${digest}`, 'x', OCTET),
        400,
        'DIGEST_INVALID',
      );
      const session = await client.post(`/v2/${repo}/blobs/uploads/`);
      expectError(
        await client.put(`${session.location}?digest=${digest}`, 'x', OCTET),
        400,
        'DIGEST_INVALID',
      );
      if (digest.includes(':')) {
        // A reference with ':' can only be a digest.
        expectError(await client.get(`/v2/${repo}/manifests/${digest}`), 400, 'DIGEST_INVALID');
        expectError(await client.delete(`/v2/${repo}/manifests/${digest}`), 400, 'DIGEST_INVALID');
        expectError(
          await client.putManifest(repo, digest, Buffer.from('{}'), MT.ociManifest),
          400,
          'DIGEST_INVALID',
        );
      }
    });

    it('a syntactically valid digest of an unknown algorithm is simply not there (404), never a 500', async () => {
      const repo = 'hostile/unknown-alg';
      const d = `sha999:${HEX}`;
      expectError(await client.get(`/v2/${repo}/blobs/${d}`), 404, 'BLOB_UNKNOWN');
      expectHeadError(await client.head(`/v2/${repo}/blobs/${d}`), 404);
      expectError(await client.delete(`/v2/${repo}/blobs/${d}`), 404, 'BLOB_UNKNOWN');
      expectError(await client.get(`/v2/${repo}/manifests/${d}`), 404, 'MANIFEST_UNKNOWN');
      expectError(await client.delete(`/v2/${repo}/manifests/${d}`), 404, 'MANIFEST_UNKNOWN');
      expect((await client.get(`/v2/${repo}/referrers/${d}`)).status).toBe(200);
      expect((await client.post(`/v2/${repo}/blobs/uploads/?mount=${d}`)).status).toBe(202);
    });

    it('content claimed under an algorithm the registry cannot compute is refused with 400 DIGEST_INVALID', async () => {
      const repo = 'hostile/unknown-alg-push';
      const d = `sha999:${HEX}`;
      expectError(
        await client.post(`/v2/${repo}/blobs/uploads/?digest=${d}`, 'x', OCTET),
        400,
        'DIGEST_INVALID',
      );
      const session = await client.post(`/v2/${repo}/blobs/uploads/`);
      expectError(
        await client.put(withQuery(session.location, { digest: d }), 'x', OCTET),
        400,
        'DIGEST_INVALID',
      );
      expectError(
        await client.putManifest(repo, d, Buffer.from('{}'), MT.ociManifest),
        400,
        'DIGEST_INVALID',
      );
      expect((await client.get(session.location)).status).toBe(204);
    });

    it('sha256:totallywrong as a manifest reference, with a body, answers 400 with an OCI error code', async () => {
      const res = await client.request('GET', '/v2/hostile/x/manifests/sha256:totallywrong', {
        headers: { 'Content-Type': MT.ociManifest },
        body: Buffer.from('blablabla'),
      });
      const err = expectError(res, 400, 'DIGEST_INVALID');
      const OCI_CODES = ['BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID'];
      expect(OCI_CODES).toContain(err.errors[0].code);
    });
  });

  describe('tags as references', () => {
    it('the invalid tag .INVALID_MANIFEST_NAME answers 404 MANIFEST_UNKNOWN on GET, HEAD and DELETE', async () => {
      await client.pushImage('hostile/tags', { tag: 'real' });
      expectError(
        await client.get('/v2/hostile/tags/manifests/.INVALID_MANIFEST_NAME'),
        404,
        'MANIFEST_UNKNOWN',
      );
      expectHeadError(await client.head('/v2/hostile/tags/manifests/.INVALID_MANIFEST_NAME'), 404);
      expectError(
        await client.delete('/v2/hostile/tags/manifests/.INVALID_MANIFEST_NAME'),
        404,
        'MANIFEST_UNKNOWN',
      );
    });

    it('PUT to an invalid tag answers 400 TAG_INVALID', async () => {
      const image = await client.pushImage('hostile/tags', {});
      for (const tag of ['.INVALID_MANIFEST_NAME', '-dash', 'x'.repeat(129), 'a%00b', 'a+b']) {
        expectError(
          await client.putManifest('hostile/tags', tag, image.manifest, MT.ociManifest),
          400,
          'TAG_INVALID',
        );
      }
    });

    it('a tag of 128 characters is valid', async () => {
      const image = await client.pushImage('hostile/tags', {});
      const tag = `_${'x'.repeat(127)}`;
      expect((await client.putManifest('hostile/tags', tag, image.manifest, MT.ociManifest)).status).toBe(
        201,
      );
      expect((await client.get(`/v2/hostile/tags/manifests/${tag}`)).status).toBe(200);
    });
  });

  describe('Content-Range on PATCH', () => {
    const BAD_RANGES = [
      ['out of order', '50-99'],
      ['overlapping', '5-14'],
      ['backwards', '9-0'],
      ['garbage bytes=abc', 'bytes=abc'],
      ['garbage words', 'abc'],
      ['open end', '10-'],
      ['suffix form', '-10'],
      ['three numbers', '10-20-30'],
      ['empty', ''],
      ['beyond 2^53', '10-99999999999999999999'],
      ['negative', '-5-10'],
      ['request form bytes=10-19', 'bytes=10-19'],
    ];

    it.each(BAD_RANGES)(
      '%s (%s) answers 416 RANGE_INVALID and the upload keeps its bytes',
      async (_what, range) => {
        const repo = 'hostile/ranges';
        let res = await client.post(`/v2/${repo}/blobs/uploads/`);
        res = await client.patch(res.location, randomBlob(10), { ...OCTET, 'Content-Range': '0-9' });
        expect(res.status).toBe(202);
        expectError(
          await client.patch(res.location, randomBlob(10), { ...OCTET, 'Content-Range': range }),
          416,
          'RANGE_INVALID',
        );
        const status = await client.get(res.location);
        expect(status.status).toBe(204);
        expect(status.header('range')).toBe('0-9');
      },
    );

    it('a chunk after the upload was committed answers 404 BLOB_UPLOAD_UNKNOWN', async () => {
      const repo = 'hostile/after-commit';
      const content = randomBlob(10);
      let res = await client.post(`/v2/${repo}/blobs/uploads/`);
      const location = res.location;
      res = await client.put(withQuery(location, { digest: sha256(content) }), content, OCTET);
      expect(res.status).toBe(201);
      expectError(
        await client.patch(location, randomBlob(10), { ...OCTET, 'Content-Range': '10-19' }),
        404,
        'BLOB_UPLOAD_UNKNOWN',
      );
    });

    it('a PATCH cut off mid-body leaves the upload at its previous size, and it can continue', async () => {
      const repo = 'hostile/truncated';
      const head = randomBlob(100);
      const tail = randomBlob(100);
      let res = await client.post(`/v2/${repo}/blobs/uploads/`);
      res = await client.patch(res.location, head, { ...OCTET, 'Content-Range': '0-99' });
      const location = res.location;
      await client.truncated('PATCH', location, OCTET, 5000, randomBlob(1000));
      // The server notices the abort and gives the session back; until then a writer is refused.
      const deadline = Date.now() + 10_000;
      for (;;) {
        res = await client.patch(location, tail, { ...OCTET, 'Content-Range': '100-199' });
        if (
          res.status !== 404 ||
          res.json().errors[0].code !== 'BLOB_UPLOAD_INVALID' ||
          Date.now() > deadline
        )
          break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(res.status).toBe(202);
      expect(res.header('range')).toBe('0-199');
      const content = Buffer.concat([head, tail]);
      expect((await client.put(withQuery(location, { digest: sha256(content) }))).status).toBe(201);
      const blob = await client.get(`/v2/${repo}/blobs/${sha256(content)}`);
      expect(blob.body.equals(content)).toBe(true);
    });
  });

  describe('manifests', () => {
    it('a body over 4 MiB answers 413 MANIFEST_INVALID before any parsing', async () => {
      const res = await client.putManifest('hostile/m', 'big', randomBlob(5 * 1024 * 1024), MT.ociManifest);
      expectError(res, 413, 'MANIFEST_INVALID');
    });

    it('references to missing blobs and children answer 400 MANIFEST_BLOB_UNKNOWN', async () => {
      const image = buildImage();
      expectError(
        await client.putManifest('hostile/m', 'x', image.manifest, MT.ociManifest),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      const index = jsonBytes({
        schemaVersion: 2,
        mediaType: MT.ociIndex,
        manifests: [descriptorOf(MT.ociManifest, image.manifest)],
      });
      expectError(
        await client.putManifest('hostile/m', 'i', index, MT.ociIndex),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
    });

    it.each([
      ['malformed JSON', '{"schemaVersion": 2,'],
      ['deeply nested JSON', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
      ['a huge number', `{"schemaVersion": 2e400}`],
      ['a prototype key', '{"__proto__": {"schemaVersion": 2}, "constructor": 1}'],
      ['a BOM', '\ufeff{"schemaVersion": 2}'],
    ])('%s answers 400 MANIFEST_INVALID', async (_what, body) => {
      expectError(
        await client.putManifest('hostile/m', 'x', Buffer.from(body), MT.ociManifest),
        400,
        'MANIFEST_INVALID',
      );
    });

    it('a Content-Type the HTTP framework cannot parse still answers 400 MANIFEST_INVALID', async () => {
      const image = await client.pushImage('hostile/m', {});
      for (const ct of ['constructor', '__proto__', 'a/b/c', '/']) {
        expectError(await client.putManifest('hostile/m', 'ct', image.manifest, ct), 400, 'MANIFEST_INVALID');
      }
      // Malformed parameters are parameters all the same, and those are ignored.
      const lenient = await client.putManifest('hostile/m', 'ct', image.manifest, `${MT.ociManifest};;=`);
      expect(lenient.status).toBe(201);
    });

    it('NUL and lone surrogates in annotations are stored (201) and listed by referrers, never a 500', async () => {
      const repo = 'hostile/annotations';
      const subject = await client.pushImage(repo, { tag: 'v1' });
      const body = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MT.ociManifest,
          config: subject.config,
          layers: subject.layers,
          subject: descriptorOf(MT.ociManifest, subject.manifest),
          annotations: { 'k\u0000': 'a\u0000b', lone: 'x\ud800y' },
        }),
      );
      const res = await client.putManifest(repo, sha256(body), body, MT.ociManifest);
      expect(res.status).toBe(201);
      const got = await client.get(`/v2/${repo}/manifests/${sha256(body)}`);
      expect(got.body.equals(body)).toBe(true);
      const refs = await client.get(`/v2/${repo}/referrers/${subject.digest}`);
      expect(refs.status).toBe(200);
      expect(refs.json().manifests[0].annotations).toEqual({ 'k\ufffd': 'a\ufffdb', lone: 'x\ufffdy' });
    });
  });

  describe('listings', () => {
    beforeAll(async () => {
      await client.pushImage('hostile/list', { tag: 'a' });
    });

    it('a NUL in last is accepted: 200 and the page after the prefix before it', async () => {
      const tags = await client.get('/v2/hostile/list/tags/list?last=%00');
      expect(tags.status).toBe(200);
      expect(tags.json().tags).toEqual(['a']);
      const after = await client.get('/v2/hostile/list/tags/list?last=a%00');
      expect(after.json().tags).toEqual([]);
      expect((await client.get('/v2/_catalog?last=%00')).status).toBe(200);
    });

    it('a NUL in the artifactType filter matches nothing: 200 and an empty index', async () => {
      const res = await client.get(`/v2/hostile/list/referrers/${DIGEST}?artifactType=%00`);
      expect(res.status).toBe(200);
      expect(res.json().manifests).toEqual([]);
    });

    it.each(['n=99999999999999999999999', 'n=9007199254740993', 'n=1&n=-1', 'n=&last='])(
      '%s never fails with a 500',
      async (query) => {
        const res = await client.get(`/v2/hostile/list/tags/list?${query}`);
        expect(res.status).toBeLessThan(500);
        expect((await client.get(`/v2/_catalog?${query}`)).status).toBeLessThan(500);
      },
    );
  });

  describe('methods and routes', () => {
    const repo = 'hostile/methods';
    it.each([
      ['POST', `/v2/${repo}/manifests/latest`],
      ['PATCH', `/v2/${repo}/manifests/latest`],
      ['PUT', `/v2/${repo}/blobs/${DIGEST}`],
      ['POST', `/v2/${repo}/blobs/${DIGEST}`],
      ['PATCH', `/v2/${repo}/tags/list`],
      ['DELETE', `/v2/${repo}/tags/list`],
      ['POST', '/v2/_catalog'],
      ['PUT', `/v2/${repo}/referrers/${DIGEST}`],
      ['GET', `/v2/${repo}/blobs/uploads/`],
      ['PUT', `/v2/${repo}/blobs/uploads/`],
      ['DELETE', `/v2/${repo}/blobs/uploads/`],
      ['POST', `/v2/${repo}/blobs/uploads/${UUID}`],
      ['PUT', '/v2/'],
      ['DELETE', '/v2/'],
      ['OPTIONS', `/v2/${repo}/manifests/latest`],
      ['PROPFIND', '/v2/'],
      ['SEARCH', `/v2/${repo}/tags/list`],
    ])('%s %s answers 405 UNSUPPORTED', async (method, path) => {
      expectError(await client.request(method, path), 405, 'UNSUPPORTED');
    });

    it.each([
      `/v2/${repo}/bogus`,
      `/v2/${repo}/blobs/`,
      `/v2/${repo}/manifests/`,
      '/v2/_catalog/x',
      `/v2/${repo}`,
    ])('an unknown route %s answers 404 UNSUPPORTED', async (path) => {
      expectError(await client.get(path), 404, 'UNSUPPORTED');
    });

    it.each([
      ['the root', '/'],
      ['an unknown path', '/nope'],
      ['another API version', '/v3/'],
      ['a prefix of /v2', '/v2x'],
      ['an escaped NUL', '/%00'],
      ['an undecodable escape', '/%zz'],
      ['an empty first segment', '//'],
      ['a path of 5,000 characters', `/${'x'.repeat(5000)}`],
      ['a query on an unknown path', '/nope?x=%zz'],
    ])('%s, outside every route, answers 404 UNSUPPORTED to every method', async (_what, path) => {
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
        const res = await client.request(method, path, { body: method === 'PUT' ? 'x' : undefined });
        expectError(res, 404, 'UNSUPPORTED');
        expect(res.json().errors[0]).toMatchObject({ message: expect.any(String), detail: { method } });
      }
      expectHeadError(await client.head(path), 404);
    });

    it('the service routes beside the API still answer', async () => {
      const health = await client.get('/healthz');
      expect({ status: health.status, body: health.json() }).toEqual({ status: 200, body: { status: 'ok' } });
    });

    it.each([
      ['of 2,600 characters', 'a'.repeat(2600)],
      ['that is not a UUID', 'not-a-uuid'],
      ['in upper case', UUID.replace(/0/g, 'A')],
      ['with an escaped slash', `..%2f..%2f${UUID}`],
      ['with an escaped NUL', `${UUID}%00`],
    ])('an upload id %s answers 404 BLOB_UPLOAD_UNKNOWN to GET, PATCH, PUT and DELETE', async (_what, id) => {
      const upload = `/v2/${repo}/blobs/uploads/${id}`;
      expectError(await client.get(upload), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectHeadError(await client.head(upload), 404);
      expectError(
        await client.patch(upload, randomBlob(10), { ...OCTET, 'Content-Range': '0-9' }),
        404,
        'BLOB_UPLOAD_UNKNOWN',
      );
      expectError(await client.patch(upload, randomBlob(10), OCTET), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectError(await client.put(withQuery(upload, { digest: DIGEST })), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectError(
        await client.put(withQuery(upload, { digest: sha256('x') }), 'x', OCTET),
        404,
        'BLOB_UPLOAD_UNKNOWN',
      );
      expectError(await client.delete(upload), 404, 'BLOB_UPLOAD_UNKNOWN');
      // Nothing was left half-done: the registry is whole and serves the next upload.
      expect((await client.post(`/v2/${repo}/blobs/uploads/`)).status).toBe(202);
    });

    it('an undecodable %-escape in a name, digest or upload id gets the matching registry error', async () => {
      expectError(await client.post('/v2/%zz/blobs/uploads/'), 400, 'NAME_INVALID');
      expectError(await client.get(`/v2/${repo}/blobs/sha256%zz`), 400, 'DIGEST_INVALID');
      expectError(await client.get(`/v2/${repo}/blobs/uploads/%zz`), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectError(await client.get(`/v2/${repo}/manifests/%E0%A4%A`), 404, 'MANIFEST_UNKNOWN');
    });
  });

  describe('odd requests, fuzz-ish', () => {
    it('no combination of odd method, path, headers and body answers a 500', async () => {
      const content = randomBlob(64);
      const real = await client.pushBlob('hostile/fuzz', content);
      // The loop deletes in hostile/fuzz; this copy is what must survive it.
      await client.pushBlob('hostile/fuzz-safe', content);
      const session = (await client.post('/v2/hostile/fuzz/blobs/uploads/')).location;
      const paths = [
        '/v2/',
        '/v2',
        '/v2/?x=%zz',
        '/v2/_catalog?n=-5',
        '/v2/_catalog?last=%FF%FE',
        '/v2/hostile/fuzz/tags/list?n=1e9&last=%00',
        '/v2/hostile/fuzz/manifests/latest',
        '/v2/hostile/fuzz/manifests/sha256:zz',
        `/v2/hostile/fuzz/manifests/${'a'.repeat(300)}`,
        `/v2/hostile/fuzz/manifests/${real}?tag=a&tag=..`,
        `/v2/hostile/fuzz/blobs/${real}`,
        `/v2/hostile/fuzz/blobs/sha999:${HEX}`,
        `/v2/hostile/fuzz/blobs/a:${'b'.repeat(3000)}`,
        `/v2/hostile/fuzz/blobs/${'a'.repeat(100)}:${HEX}`,
        '/v2/hostile/fuzz/blobs/uploads/',
        '/v2/hostile/fuzz/blobs/uploads/?mount=%00&from=%00',
        `/v2/hostile/fuzz/blobs/uploads/?mount=${real}&from=..%2F..`,
        `/v2/hostile/fuzz/blobs/uploads/?digest=${real}&mount=x`,
        session,
        `${session}?digest=sha256:`,
        `/v2/hostile/fuzz/blobs/uploads/${UUID}`,
        '/v2/hostile/fuzz/blobs/uploads/..%2f..%2fetc',
        `/v2/hostile/fuzz/referrers/${real}?artifactType=%00`,
        '/v2/../../etc/passwd',
        '/v2/%2e%2e/blobs/uploads/',
        '/v2/x/../../y/manifests/latest',
        `/v2/${'a/'.repeat(200)}b/tags/list`,
        `/v2/${'a'.repeat(5000)}/tags/list`,
        '/v2/a:b/tags/list',
        '/v2/hostile/fuzz/manifests/%zz',
        '/v2/hostile/fuzz/tags/list?n=1&n=2&last=',
        `/v2/hostile/fuzz/blobs/uploads/${'a'.repeat(2600)}`,
        `/v2/hostile/fuzz/blobs/uploads/${'a'.repeat(2600)}?digest=${real}`,
        '/',
        '/nope',
        '/v3/',
        '/%zz',
      ];
      const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
      const headerSets: Record<string, string>[] = [
        {},
        { 'Content-Type': 'application/octet-stream', 'Content-Range': 'bytes=abc' },
        { 'Content-Type': 'x/y; a="unterminated', Range: 'bytes=5-1,7-', 'If-None-Match': '*' },
        {
          Accept: Array.from({ length: 300 }, (_, i) => `a/b${i};q=0.${i % 10}`).join(', '),
          'If-Range': 'x',
        },
        { 'X-Forwarded-Host': 'évil.example\u00e9', 'X-Forwarded-Proto': 'gopher', Range: 'bytes=-0' },
      ];
      const failures: string[] = [];
      for (const path of paths) {
        for (const method of methods) {
          for (const [i, headers] of headerSets.entries()) {
            const body =
              ['POST', 'PUT', 'PATCH'].includes(method) && i % 2 === 0 ? randomBlob(100) : undefined;
            const res = await client.request(method, path, { headers, body });
            const what = `${method} ${path.slice(0, 80)} [headers ${i}]`;
            if (res.status >= 500 || res.status < 100) failures.push(`${what} → ${res.describe()}`);
            else if (res.status >= 400) {
              try {
                expectEnvelopeIfBody(res, what);
              } catch (e) {
                failures.push((e as Error).message);
              }
            }
          }
        }
      }
      expect(failures).toEqual([]);
      // And the registry is still whole.
      expect((await client.get('/v2/')).status).toBe(200);
      const blob = await client.get(`/v2/hostile/fuzz-safe/blobs/${real}`);
      expect(blob.status).toBe(200);
      expect(blob.body.equals(content)).toBe(true);
    });

    it('raw requests that HTTP parsing rejects never reach a 500', async () => {
      const raw = [
        'GET /v2/ HTTP/1.1\r\nX-Forwarded-Host: a\x01b',
        'GET /v2/ HTTP/1.1\r\nContent-Length: abc',
        'GET /v2/ HTTP/1.1\r\nContent-Length: -1',
        'POST /v2/x/blobs/uploads/ HTTP/1.1\r\nContent-Length: 0\r\nX-Forwarded-Host: a\xe9b',
        'GET http://example.com/v2/ HTTP/1.1',
        'GET v2/ HTTP/1.1',
        'OPTIONS * HTTP/1.1',
        'GET /v2/x/tags/list#frag HTTP/1.1',
        'BREW /v2/ HTTP/1.1',
      ];
      for (const head of raw) {
        const res = await client.raw(head);
        expect({ head, status: res.status < 500 }).toEqual({ head, status: true });
      }
      expect((await client.get('/v2/')).status).toBe(200);
    });
  });
});
