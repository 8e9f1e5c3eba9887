/**
 * Blob uploads: POST /v2/<name>/blobs/uploads/ (sessions, single-POST, mounts) and GET / PATCH /
 * PUT / DELETE on a session (PROTOCOL.md §2.3).
 */
import { Readable } from 'node:stream';
import { startTestRegistry, type TestRegistry } from '../support/registry';
import {
  EMPTY_BLOB_DIGEST,
  RegistryClient,
  type Response,
  expectError,
  expectHeadError,
  randomBlob,
  sha256,
  withQuery,
} from './support/client';
import { uploadFileExists, uploadsLeft } from './support/storage';

const OCTET = { 'Content-Type': 'application/octet-stream' };

describe('blob uploads', () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  let repoCount = 0;
  const freshRepo = (what: string) => `uploads/${what}-${++repoCount}`;

  beforeAll(async () => {
    registry = await startTestRegistry();
    client = new RegistryClient(registry.url);
  });

  afterAll(async () => {
    client?.close();
    await registry?.stop();
  });

  async function start(repo: string): Promise<Response> {
    const res = await client.post(`/v2/${repo}/blobs/uploads/`);
    expect(res.status).toBe(202);
    return res;
  }

  const uuidOf = (res: Response) => res.location.split('/').pop()!.split('?')[0];

  async function expectBlob(repo: string, content: Buffer): Promise<void> {
    const res = await client.get(`/v2/${repo}/blobs/${sha256(content)}`);
    expect(res.status).toBe(200);
    expect(res.body.equals(content)).toBe(true);
  }

  describe('POST starts a session', () => {
    it('answers 202 with an absolute Location, Range 0-0, Docker-Upload-UUID and no body', async () => {
      const repo = freshRepo('start');
      const res = await start(repo);
      const location = res.header('location')!;
      expect(location).toMatch(
        new RegExp(`^http://${client.host}/v2/${repo}/blobs/uploads/[A-Za-z0-9._=-]+$`),
      );
      expect(res.header('range')).toBe('0-0');
      const uuid = res.header('docker-upload-uuid');
      expect(uuid).toBeTruthy();
      expect(uuidOf(res)).toBe(uuid);
      expect(res.header('content-length')).toBe('0');
      expect(res.body.length).toBe(0);
    });

    it('without the trailing slash it is the same endpoint', async () => {
      const res = await client.post(`/v2/${freshRepo('noslash')}/blobs/uploads`);
      expect(res.status).toBe(202);
      expect(res.header('docker-upload-uuid')).toBeTruthy();
    });

    it('each POST opens a distinct session', async () => {
      const repo = freshRepo('distinct');
      const a = await start(repo);
      const b = await start(repo);
      expect(uuidOf(a)).not.toBe(uuidOf(b));
    });

    it('Location follows X-Forwarded-Proto and X-Forwarded-Host', async () => {
      const repo = freshRepo('fwd');
      const res = await client.post(`/v2/${repo}/blobs/uploads/`, undefined, {
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Host': 'registry.example.com',
      });
      expect(res.status).toBe(202);
      expect(res.header('location')).toMatch(
        new RegExp(`^https://registry\\.example\\.com/v2/${repo}/blobs/uploads/`),
      );
    });

    it('Location uses the first entry of a forwarded list', async () => {
      const repo = freshRepo('fwdlist');
      const res = await client.post(`/v2/${repo}/blobs/uploads/`, undefined, {
        'X-Forwarded-Proto': 'https, http',
        'X-Forwarded-Host': 'edge.example.com:8443, inner.local',
      });
      expect(res.header('location')).toMatch(new RegExp(`^https://edge\\.example\\.com:8443/v2/${repo}/`));
    });

    it('without forwarded headers, Location is built from Host', async () => {
      const repo = freshRepo('host');
      const res = await client.post(`/v2/${repo}/blobs/uploads/`, undefined, {
        Host: 'my-registry.local:5000',
      });
      expect(res.header('location')).toMatch(
        new RegExp(`^http://my-registry\\.local:5000/v2/${repo}/blobs/uploads/`),
      );
    });
  });

  describe('single-POST monolithic upload (?digest=)', () => {
    it('answers 201 with the blob Location and digest, and GET returns the same bytes', async () => {
      const repo = freshRepo('mono');
      const content = randomBlob(1000);
      const digest = sha256(content);
      const res = await client.post(`/v2/${repo}/blobs/uploads/?digest=${digest}`, content, OCTET);
      expect(res.status).toBe(201);
      expect(res.header('location')).toBe(`http://${client.host}/v2/${repo}/blobs/${digest}`);
      expect(res.header('docker-content-digest')).toBe(digest);
      expect(res.header('docker-upload-uuid')).toBeUndefined();
      await expectBlob(repo, content);
    });

    it('with a digest that does not match answers 400 DIGEST_INVALID, stores nothing and leaves no upload', async () => {
      const repo = freshRepo('mono-bad');
      const content = randomBlob(100);
      const before = uploadsLeft(registry);
      const res = await client.post(`/v2/${repo}/blobs/uploads/?digest=${sha256('other')}`, content, OCTET);
      expectError(res, 400, 'DIGEST_INVALID');
      expectError(await client.get(`/v2/${repo}/blobs/${sha256('other')}`), 404, 'BLOB_UNKNOWN');
      expectError(await client.get(`/v2/${repo}/blobs/${sha256(content)}`), 404, 'BLOB_UNKNOWN');
      expect(uploadsLeft(registry)).toEqual(before);
    });

    it('with a malformed digest answers 400 DIGEST_INVALID', async () => {
      const res = await client.post(
        `/v2/${freshRepo('mono-mal')}/blobs/uploads/?digest=sha256:nothex`,
        'x',
        OCTET,
      );
      expectError(res, 400, 'DIGEST_INVALID');
    });

    it('with an algorithm the registry cannot compute answers 400 DIGEST_INVALID and leaves no upload', async () => {
      const before = uploadsLeft(registry);
      const res = await client.post(
        `/v2/${freshRepo('mono-alg')}/blobs/uploads/?digest=sha999:${'ab'.repeat(32)}`,
        'x',
        OCTET,
      );
      expectError(res, 400, 'DIGEST_INVALID');
      expect(uploadsLeft(registry)).toEqual(before);
    });

    it('of the empty blob with no body answers 201', async () => {
      const repo = freshRepo('mono-empty');
      const res = await client.post(`/v2/${repo}/blobs/uploads/?digest=${EMPTY_BLOB_DIGEST}`);
      expect(res.status).toBe(201);
      expect((await client.head(`/v2/${repo}/blobs/${EMPTY_BLOB_DIGEST}`)).header('content-length')).toBe(
        '0',
      );
    });
  });

  describe('POST then PUT', () => {
    it('PUT with the whole body answers 201 with Location and Docker-Content-Digest', async () => {
      const repo = freshRepo('put');
      const content = randomBlob(4096);
      const digest = sha256(content);
      const session = await start(repo);
      const res = await client.put(withQuery(session.location, { digest }), content, OCTET);
      expect(res.status).toBe(201);
      expect(res.header('location')).toBe(`http://${client.host}/v2/${repo}/blobs/${digest}`);
      expect(res.header('docker-content-digest')).toBe(digest);
      expect(res.header('content-length')).toBe('0');
      await expectBlob(repo, content);
      expect(uploadFileExists(registry, uuidOf(session))).toBe(false);
    });

    it('the session is gone after the commit: GET answers 404 BLOB_UPLOAD_UNKNOWN', async () => {
      const repo = freshRepo('put-gone');
      const session = await start(repo);
      const content = randomBlob(10);
      expect(
        (await client.put(withQuery(session.location, { digest: sha256(content) }), content)).status,
      ).toBe(201);
      expectError(await client.get(session.location), 404, 'BLOB_UPLOAD_UNKNOWN');
    });

    it('a chunk after the upload was committed answers 404 BLOB_UPLOAD_UNKNOWN', async () => {
      const repo = freshRepo('after-commit');
      const session = await start(repo);
      const content = randomBlob(10);
      expect(
        (await client.put(withQuery(session.location, { digest: sha256(content) }), content)).status,
      ).toBe(201);
      expectError(await client.patch(session.location, randomBlob(5), OCTET), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectError(
        await client.patch(session.location, randomBlob(5), { ...OCTET, 'Content-Range': '10-14' }),
        404,
        'BLOB_UPLOAD_UNKNOWN',
      );
      expectError(
        await client.put(withQuery(session.location, { digest: sha256(content) }), content),
        404,
        'BLOB_UPLOAD_UNKNOWN',
      );
    });

    it('PUT with a digest that does not match answers 400 DIGEST_INVALID, stores nothing and ends the session', async () => {
      const repo = freshRepo('put-mismatch');
      const content = randomBlob(64);
      const session = await start(repo);
      const wrong = sha256('something else');
      expectError(
        await client.put(withQuery(session.location, { digest: wrong }), content, OCTET),
        400,
        'DIGEST_INVALID',
      );
      expectError(await client.get(`/v2/${repo}/blobs/${wrong}`), 404, 'BLOB_UNKNOWN');
      expectError(await client.get(`/v2/${repo}/blobs/${sha256(content)}`), 404, 'BLOB_UNKNOWN');
      expectError(await client.get(session.location), 404, 'BLOB_UPLOAD_UNKNOWN');
      expect(uploadFileExists(registry, uuidOf(session))).toBe(false);
    });

    it('PUT without a digest answers 400 DIGEST_INVALID and the upload stays usable', async () => {
      const repo = freshRepo('put-nodigest');
      const content = randomBlob(64);
      const session = await start(repo);
      const patched = await client.patch(session.location, content, OCTET);
      expect(patched.status).toBe(202);
      expectError(await client.put(session.location), 400, 'DIGEST_INVALID');
      const status = await client.get(session.location);
      expect(status.status).toBe(204);
      expect(status.header('range')).toBe('0-63');
      const res = await client.put(withQuery(session.location, { digest: sha256(content) }));
      expect(res.status).toBe(201);
      await expectBlob(repo, content);
    });

    it('PUT without a digest but with a final chunk leaves the upload as it was', async () => {
      const repo = freshRepo('put-nodigest-chunk');
      const session = await start(repo);
      expectError(await client.put(session.location, randomBlob(10), OCTET), 400, 'DIGEST_INVALID');
      const status = await client.get(session.location);
      expect(status.status).toBe(204);
      expect(status.header('range')).toBe('0-0');
      const content = randomBlob(30);
      expect(
        (await client.put(withQuery(session.location, { digest: sha256(content) }), content)).status,
      ).toBe(201);
      await expectBlob(repo, content);
    });

    it('PUT with a malformed digest answers 400 DIGEST_INVALID and the upload stays usable', async () => {
      const repo = freshRepo('put-maldigest');
      const session = await start(repo);
      expectError(
        await client.put(withQuery(session.location, { digest: 'sha256:xyz' })),
        400,
        'DIGEST_INVALID',
      );
      expect((await client.get(session.location)).status).toBe(204);
    });

    it('PUT of the empty blob with no body answers 201', async () => {
      const repo = freshRepo('put-empty');
      const session = await start(repo);
      const res = await client.put(withQuery(session.location, { digest: EMPTY_BLOB_DIGEST }));
      expect(res.status).toBe(201);
      expect(res.header('docker-content-digest')).toBe(EMPTY_BLOB_DIGEST);
      const get = await client.get(`/v2/${repo}/blobs/${EMPTY_BLOB_DIGEST}`);
      expect(get.status).toBe(200);
      expect(get.body.length).toBe(0);
    });
  });

  describe('chunked PATCH', () => {
    it('chunks with Content-Range answer 202 with Range 0-<end>, then PUT with no body answers 201', async () => {
      const repo = freshRepo('chunked');
      const content = randomBlob(3000);
      let res = await start(repo);
      const uuid = uuidOf(res);
      for (const [start, end] of [
        [0, 999],
        [1000, 1999],
        [2000, 2999],
      ]) {
        res = await client.patch(res.location, content.subarray(start, end + 1), {
          ...OCTET,
          'Content-Range': `${start}-${end}`,
        });
        expect(res.status).toBe(202);
        expect(res.header('range')).toBe(`0-${end}`);
        expect(res.header('docker-upload-uuid')).toBe(uuid);
        expect(res.header('location')).toMatch(
          new RegExp(`^http://${client.host}/v2/${repo}/blobs/uploads/${uuid}`),
        );
        expect(res.header('content-length')).toBe('0');
      }
      res = await client.put(withQuery(res.location, { digest: sha256(content) }));
      expect(res.status).toBe(201);
      expect(res.header('docker-content-digest')).toBe(sha256(content));
      await expectBlob(repo, content);
    });

    it('chunks without Content-Range are appended in order (streamed upload)', async () => {
      const repo = freshRepo('streamed');
      const content = randomBlob(2500);
      let res = await start(repo);
      res = await client.patch(res.location, content.subarray(0, 1200), OCTET);
      expect(res.status).toBe(202);
      expect(res.header('range')).toBe('0-1199');
      res = await client.patch(res.location, content.subarray(1200), OCTET);
      expect(res.status).toBe(202);
      expect(res.header('range')).toBe('0-2499');
      expect((await client.put(withQuery(res.location, { digest: sha256(content) }))).status).toBe(201);
      await expectBlob(repo, content);
    });

    it('a chunk sent with Transfer-Encoding: chunked (no Content-Length) is accepted', async () => {
      const repo = freshRepo('te-chunked');
      const parts = [randomBlob(700), randomBlob(900), randomBlob(50)];
      const content = Buffer.concat(parts);
      let res = await start(repo);
      res = await client.patch(res.location, Readable.from(parts), OCTET);
      expect(res.status).toBe(202);
      expect(res.header('range')).toBe(`0-${content.length - 1}`);
      expect((await client.put(withQuery(res.location, { digest: sha256(content) }))).status).toBe(201);
      await expectBlob(repo, content);
    });

    it('PATCH out of order answers 416 RANGE_INVALID and the upload keeps its bytes', async () => {
      const repo = freshRepo('ooo');
      const content = randomBlob(200);
      let res = await start(repo);
      res = await client.patch(res.location, content.subarray(0, 100), { ...OCTET, 'Content-Range': '0-99' });
      expect(res.status).toBe(202);
      expectError(
        await client.patch(res.location, content.subarray(150), { ...OCTET, 'Content-Range': '150-199' }),
        416,
        'RANGE_INVALID',
      );
      const status = await client.get(res.location);
      expect(status.status).toBe(204);
      expect(status.header('range')).toBe('0-99');
      res = await client.patch(res.location, content.subarray(100), { ...OCTET, 'Content-Range': '100-199' });
      expect(res.status).toBe(202);
      expect((await client.put(withQuery(res.location, { digest: sha256(content) }))).status).toBe(201);
      await expectBlob(repo, content);
    });

    it('PATCH overlapping the bytes already received answers 416 RANGE_INVALID', async () => {
      const repo = freshRepo('overlap');
      const content = randomBlob(200);
      let res = await start(repo);
      res = await client.patch(res.location, content.subarray(0, 100), { ...OCTET, 'Content-Range': '0-99' });
      expectError(
        await client.patch(res.location, content.subarray(50, 150), { ...OCTET, 'Content-Range': '50-149' }),
        416,
        'RANGE_INVALID',
      );
      expect((await client.get(res.location)).header('range')).toBe('0-99');
    });

    it('a first PATCH that does not start at 0 answers 416 RANGE_INVALID', async () => {
      const res = await start(freshRepo('first-not-zero'));
      expectError(
        await client.patch(res.location, randomBlob(10), { ...OCTET, 'Content-Range': '10-19' }),
        416,
        'RANGE_INVALID',
      );
    });

    it('Content-Length different from the Content-Range span answers 400 SIZE_INVALID', async () => {
      const res = await start(freshRepo('size'));
      expectError(
        await client.patch(res.location, randomBlob(10), { ...OCTET, 'Content-Range': '0-19' }),
        400,
        'SIZE_INVALID',
      );
      expect((await client.get(res.location)).header('range')).toBe('0-0');
    });

    it('Content-Range with the response form "bytes a-b/total" is understood', async () => {
      const repo = freshRepo('cr-form');
      const content = randomBlob(20);
      let res = await start(repo);
      res = await client.patch(res.location, content, { ...OCTET, 'Content-Range': 'bytes 0-19/20' });
      expect(res.status).toBe(202);
      expect(res.header('range')).toBe('0-19');
    });

    it('PUT with a final chunk and its Content-Range answers 201', async () => {
      const repo = freshRepo('final-chunk');
      const content = randomBlob(300);
      let res = await start(repo);
      res = await client.patch(res.location, content.subarray(0, 100), { ...OCTET, 'Content-Range': '0-99' });
      res = await client.put(withQuery(res.location, { digest: sha256(content) }), content.subarray(100), {
        ...OCTET,
        'Content-Range': '100-299',
      });
      expect(res.status).toBe(201);
      await expectBlob(repo, content);
    });

    it('PUT with a final chunk out of order answers 416 RANGE_INVALID and the upload survives', async () => {
      const repo = freshRepo('final-ooo');
      const content = randomBlob(300);
      let res = await start(repo);
      res = await client.patch(res.location, content.subarray(0, 100), { ...OCTET, 'Content-Range': '0-99' });
      expectError(
        await client.put(withQuery(res.location, { digest: sha256(content) }), content.subarray(200), {
          ...OCTET,
          'Content-Range': '200-299',
        }),
        416,
        'RANGE_INVALID',
      );
      expect((await client.get(res.location)).header('range')).toBe('0-99');
    });

    it('PUT with a final chunk and a wrong digest answers 400 DIGEST_INVALID and nothing is stored', async () => {
      const repo = freshRepo('final-mismatch');
      const content = randomBlob(300);
      let res = await start(repo);
      res = await client.patch(res.location, content.subarray(0, 100), OCTET);
      const wrong = sha256(content.subarray(0, 100));
      expectError(
        await client.put(withQuery(res.location, { digest: wrong }), content.subarray(100), OCTET),
        400,
        'DIGEST_INVALID',
      );
      expectError(await client.get(`/v2/${repo}/blobs/${wrong}`), 404, 'BLOB_UNKNOWN');
      expectError(await client.get(`/v2/${repo}/blobs/${sha256(content)}`), 404, 'BLOB_UNKNOWN');
      expectError(await client.get(res.location), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectError(await client.patch(res.location, randomBlob(1), OCTET), 404, 'BLOB_UPLOAD_UNKNOWN');
    });
  });

  describe('upload status and cancel', () => {
    it('GET answers 204 with Range, Location, Docker-Upload-UUID and no body', async () => {
      const repo = freshRepo('status');
      let res = await start(repo);
      const uuid = uuidOf(res);
      res = await client.patch(res.location, randomBlob(77), OCTET);
      const status = await client.get(res.location);
      expect(status.status).toBe(204);
      expect(status.header('range')).toBe('0-76');
      expect(status.header('docker-upload-uuid')).toBe(uuid);
      expect(status.header('location')).toMatch(new RegExp(`/v2/${repo}/blobs/uploads/${uuid}$`));
      expect(status.body.length).toBe(0);
    });

    it('HEAD behaves like GET', async () => {
      const res = await start(freshRepo('status-head'));
      const status = await client.head(res.location);
      expect(status.status).toBe(204);
      expect(status.header('range')).toBe('0-0');
      expect(status.header('docker-upload-uuid')).toBe(uuidOf(res));
    });

    it('DELETE cancels: 204, then the session answers 404 BLOB_UPLOAD_UNKNOWN', async () => {
      const repo = freshRepo('cancel');
      let res = await start(repo);
      const uuid = uuidOf(res);
      res = await client.patch(res.location, randomBlob(100), OCTET);
      const del = await client.delete(res.location);
      expect(del.status).toBe(204);
      expect(del.header('docker-upload-uuid')).toBe(uuid);
      expect(del.header('content-length')).toBe('0');
      expectError(await client.get(res.location), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectHeadError(await client.head(res.location), 404);
      expectError(await client.patch(res.location, randomBlob(1), OCTET), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectError(
        await client.put(withQuery(res.location, { digest: sha256('x') }), 'x'),
        404,
        'BLOB_UPLOAD_UNKNOWN',
      );
      expectError(await client.delete(res.location), 404, 'BLOB_UPLOAD_UNKNOWN');
      expect(uploadFileExists(registry, uuid)).toBe(false);
    });

    it('an unknown upload id answers 404 BLOB_UPLOAD_UNKNOWN on every method', async () => {
      const repo = freshRepo('unknown-id');
      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', 'a.b=c_d']) {
        const path = `/v2/${repo}/blobs/uploads/${id}`;
        expectError(await client.get(path), 404, 'BLOB_UPLOAD_UNKNOWN');
        expectError(await client.patch(path, 'abc', OCTET), 404, 'BLOB_UPLOAD_UNKNOWN');
        expectError(await client.put(`${path}?digest=${sha256('abc')}`, 'abc'), 404, 'BLOB_UPLOAD_UNKNOWN');
        expectError(await client.delete(path), 404, 'BLOB_UPLOAD_UNKNOWN');
      }
    });

    it('a session belongs to its repository: used under another name it is 404 BLOB_UPLOAD_UNKNOWN', async () => {
      const res = await start(freshRepo('owner'));
      const other = `/v2/${freshRepo('thief')}/blobs/uploads/${uuidOf(res)}`;
      expectError(await client.get(other), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectError(await client.patch(other, 'abc', OCTET), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectError(await client.delete(other), 404, 'BLOB_UPLOAD_UNKNOWN');
      expect((await client.get(res.location)).status).toBe(204);
    });

    it('POST on a session URL answers 405 UNSUPPORTED', async () => {
      const res = await start(freshRepo('post-session'));
      expectError(await client.post(res.location), 405, 'UNSUPPORTED');
    });
  });

  describe('OCI conformance chunk sequence (PROTOCOL.md §9)', () => {
    // 42 bytes split 22 + 20, as the conformance suite does.
    const blob = randomBlob(42);
    const chunk1 = blob.subarray(0, 22);
    const chunk2 = blob.subarray(22);

    it('runs: 416, 202 0-21, 416 on the stale Location, 204 on it, 202, 201', async () => {
      const repo = freshRepo('oci-chunks');

      // A first PATCH carrying the second chunk's range is out of order.
      let res = await client.post(`/v2/${repo}/blobs/uploads/`, undefined, { 'Content-Length': '0' });
      expect(res.status).toBe(202);
      expectError(
        await client.patch(res.location, chunk2, { ...OCTET, 'Content-Range': '22-41' }),
        416,
        'RANGE_INVALID',
      );

      res = await client.post(`/v2/${repo}/blobs/uploads/`, undefined, { 'Content-Length': '0' });
      const previous = res;
      res = await client.patch(res.location, chunk1, { ...OCTET, 'Content-Range': '0-21' });
      expect(res.status).toBe(202);
      expect(res.header('range')).toBe('0-21');

      // Retrying the first chunk on the old Location.
      expectError(
        await client.patch(previous.location, chunk1, { ...OCTET, 'Content-Range': '0-21' }),
        416,
        'RANGE_INVALID',
      );

      const stale = await client.get(previous.location);
      expect(stale.status).toBe(204);
      expect(stale.header('location')).toBeTruthy();
      expect(stale.header('range')).toBe('0-21');

      res = await client.patch(stale.location, chunk2, { ...OCTET, 'Content-Range': '22-41' });
      expect(res.status).toBe(202);
      expect(res.header('location')).toBeTruthy();
      expect(res.header('range')).toBe('0-41');

      res = await client.put(withQuery(res.location, { digest: sha256(blob) }), undefined, {
        ...OCTET,
        'Content-Length': '0',
      });
      expect(res.status).toBe(201);
      expect(res.header('location')).toBeTruthy();
      await expectBlob(repo, blob);
    });
  });

  describe('cross-repository mount', () => {
    it('?mount=&from= answers 201 with Location /v2/<target>/blobs/<digest> when the source links the blob', async () => {
      const source = freshRepo('mount-src');
      const target = freshRepo('mount-dst');
      const content = randomBlob(500);
      const digest = await client.pushBlob(source, content);
      const res = await client.post(`/v2/${target}/blobs/uploads/?mount=${digest}&from=${source}`);
      expect(res.status).toBe(201);
      expect(res.location).toBe(`/v2/${target}/blobs/${digest}`);
      expect(res.header('location')).toBe(`http://${client.host}/v2/${target}/blobs/${digest}`);
      expect(res.header('docker-content-digest')).toBe(digest);
      expect(res.header('docker-upload-uuid')).toBeUndefined();
      await expectBlob(target, content);
    });

    it('answers a normal 202 session when the source does not link the blob', async () => {
      const source = freshRepo('mount-empty-src');
      const target = freshRepo('mount-empty-dst');
      const elsewhere = freshRepo('mount-elsewhere');
      await client.pushBlob(source, randomBlob(5));
      const digest = await client.pushBlob(elsewhere, randomBlob(50));
      const res = await client.post(`/v2/${target}/blobs/uploads/?mount=${digest}&from=${source}`);
      expect(res.status).toBe(202);
      expect(res.location).toMatch(new RegExp(`^/v2/${target}/blobs/uploads/`));
      expect(res.header('docker-upload-uuid')).toBeTruthy();
      expectError(await client.get(`/v2/${target}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    });

    it('answers a normal 202 session when the source repository does not exist', async () => {
      const digest = await client.pushBlob(freshRepo('mount-x'), randomBlob(10));
      const res = await client.post(
        `/v2/${freshRepo('mount-y')}/blobs/uploads/?mount=${digest}&from=no/such/repo`,
      );
      expect(res.status).toBe(202);
    });

    it('without from, mounts automatically from any repository that has the blob (201)', async () => {
      const content = randomBlob(321);
      const digest = await client.pushBlob(freshRepo('auto-src'), content);
      const target = freshRepo('auto-dst');
      const res = await client.post(`/v2/${target}/blobs/uploads/?mount=${digest}`);
      expect(res.status).toBe(201);
      expect(res.location).toBe(`/v2/${target}/blobs/${digest}`);
      await expectBlob(target, content);
    });

    it('mount=<unknown digest> without from answers 202 with a session', async () => {
      const target = freshRepo('mount-unknown');
      const res = await client.post(`/v2/${target}/blobs/uploads/?mount=${sha256('never pushed')}`);
      expect(res.status).toBe(202);
      expect(res.location).toMatch(new RegExp(`^/v2/${target}/blobs/uploads/`));
    });

    it('a malformed mount digest or an invalid from name just starts a session (202)', async () => {
      const digest = await client.pushBlob(freshRepo('mount-mal-src'), randomBlob(10));
      const target = freshRepo('mount-mal');
      expect((await client.post(`/v2/${target}/blobs/uploads/?mount=sha256:zz&from=a`)).status).toBe(202);
      expect((await client.post(`/v2/${target}/blobs/uploads/?mount=${digest}&from=../Bad`)).status).toBe(
        202,
      );
    });

    it('mounting into a repository that already links the blob answers 201', async () => {
      const repo = freshRepo('mount-self');
      const digest = await client.pushBlob(repo, randomBlob(10));
      expect((await client.post(`/v2/${repo}/blobs/uploads/?mount=${digest}&from=${repo}`)).status).toBe(201);
    });
  });
});
