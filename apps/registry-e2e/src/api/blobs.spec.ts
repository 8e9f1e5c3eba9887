/**
 * GET /v2/ and blob reads and deletes: GET / HEAD / DELETE /v2/<name>/blobs/<digest>
 * (PROTOCOL.md §2.1, §2.2).
 */
import { createHash } from 'node:crypto';
import { startTestRegistry, type TestRegistry } from '../support/registry';
import {
  EMPTY_BLOB_DIGEST,
  RegistryClient,
  expectError,
  expectHeadError,
  randomBlob,
  sha256,
  withQuery,
} from './support/client';

describe('blobs', () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  const repo = 'blobs/main';
  const blob = randomBlob(2048);
  const digest = sha256(blob);
  const path = `/v2/${repo}/blobs/${digest}`;

  beforeAll(async () => {
    registry = await startTestRegistry();
    client = new RegistryClient(registry.url);
    await client.pushBlob(repo, blob);
  });

  afterAll(async () => {
    client?.close();
    await registry?.stop();
  });

  describe('GET /v2/', () => {
    it('answers 200 with Docker-Distribution-API-Version: registry/2.0 and a JSON body', async () => {
      const res = await client.get('/v2/');
      expect(res.status).toBe(200);
      expect(res.header('docker-distribution-api-version')).toBe('registry/2.0');
      expect(res.header('content-type')).toMatch(/^application\/json/);
      expect(res.json()).toEqual({});
    });

    it('answers HEAD with 200 and the version header', async () => {
      const res = await client.head('/v2/');
      expect(res.status).toBe(200);
      expect(res.header('docker-distribution-api-version')).toBe('registry/2.0');
      expect(res.body.length).toBe(0);
    });

    it('also sends the version header on errors', async () => {
      const res = await client.get(`/v2/${repo}/blobs/${sha256('nope')}`);
      expectError(res, 404, 'BLOB_UNKNOWN');
      expect(res.header('docker-distribution-api-version')).toBe('registry/2.0');
    });
  });

  describe('GET and HEAD', () => {
    it('GET answers 200 with the bytes and the blob headers', async () => {
      const res = await client.get(path);
      expect(res.status).toBe(200);
      expect(res.body.equals(blob)).toBe(true);
      expect(res.header('content-length')).toBe('2048');
      expect(res.header('docker-content-digest')).toBe(digest);
      expect(res.header('etag')).toBe(`"${digest}"`);
      expect(res.header('cache-control')).toBe('max-age=31536000');
      expect(res.header('accept-ranges')).toBe('bytes');
      expect(res.header('content-type')).toBe('application/octet-stream');
    });

    it('HEAD answers 200 with the same headers and no body', async () => {
      const res = await client.head(path);
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(0);
      expect(res.header('content-length')).toBe('2048');
      expect(res.header('docker-content-digest')).toBe(digest);
      expect(res.header('etag')).toBe(`"${digest}"`);
      expect(res.header('cache-control')).toBe('max-age=31536000');
      expect(res.header('accept-ranges')).toBe('bytes');
    });

    it('a digest percent-encoded by the client (sha256%3A...) is the same blob', async () => {
      const res = await client.get(path.replace(':', '%3A'));
      expect(res.status).toBe(200);
      expect(res.header('docker-content-digest')).toBe(digest);
    });

    it('an unknown blob answers 404 BLOB_UNKNOWN', async () => {
      expectError(await client.get(`/v2/${repo}/blobs/${sha256('unknown')}`), 404, 'BLOB_UNKNOWN');
      expectHeadError(await client.head(`/v2/${repo}/blobs/${sha256('unknown')}`), 404);
    });

    it('a blob pushed to repo A is 404 BLOB_UNKNOWN in repo B, existing or not', async () => {
      await client.pushBlob('blobs/other', randomBlob(10));
      expectError(await client.get(`/v2/blobs/other/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
      expectHeadError(await client.head(`/v2/blobs/other/blobs/${digest}`), 404);
      expectError(await client.get(`/v2/blobs/never-pushed/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    });

    it('a large blob streams back intact', async () => {
      const big = randomBlob(5 * 1024 * 1024 + 17);
      const d = await client.pushBlob(repo, big);
      const res = await client.get(`/v2/${repo}/blobs/${d}`);
      expect(res.status).toBe(200);
      expect(res.header('content-length')).toBe(String(big.length));
      expect(sha256(res.body)).toBe(d);
    });

    it('a sha512 digest is a digest: unknown blobs are 404 BLOB_UNKNOWN, uploads under it 400', async () => {
      const data = randomBlob(4096);
      const d = `sha512:${createHash('sha512').update(data).digest('hex')}`;
      expectError(await client.get(`/v2/${repo}/blobs/${d}`), 404, 'BLOB_UNKNOWN');
      expectHeadError(await client.head(`/v2/${repo}/blobs/${d}`), 404);
      expectError(await client.get(`/v2/${repo}/blobs/${d}`, { Range: 'bytes=0-9' }), 404, 'BLOB_UNKNOWN');
      // Content is stored under sha256; an upload committed under another algorithm is refused.
      const session = await client.post(`/v2/${repo}/blobs/uploads/`);
      expect(session.status).toBe(202);
      const put = await client.put(withQuery(session.location, { digest: d }), data, {
        'Content-Type': 'application/octet-stream',
      });
      expectError(put, 400, 'DIGEST_INVALID');
    });

    it('the empty blob is served with Content-Length 0', async () => {
      expect(await client.pushBlob(repo, Buffer.alloc(0))).toBe(EMPTY_BLOB_DIGEST);
      const res = await client.get(`/v2/${repo}/blobs/${EMPTY_BLOB_DIGEST}`);
      expect(res.status).toBe(200);
      expect(res.header('content-length')).toBe('0');
      expect(res.header('docker-content-digest')).toBe(EMPTY_BLOB_DIGEST);
      expect(res.body.length).toBe(0);
    });
  });

  describe('Range', () => {
    it.each([
      ['bytes=500-1499', 500, 1499],
      ['bytes=500-', 500, 2047],
      ['bytes=-500', 1548, 2047],
      ['bytes=2000-5000', 2000, 2047],
      ['bytes=0-0', 0, 0],
      ['bytes=-5000', 0, 2047],
    ])('%s answers 206 with bytes %i-%i', async (range, start, end) => {
      const res = await client.get(path, { Range: range });
      expect(res.status).toBe(206);
      expect(res.header('content-range')).toBe(`bytes ${start}-${end}/2048`);
      expect(res.header('content-length')).toBe(String(end - start + 1));
      expect(res.body.equals(blob.subarray(start, end + 1))).toBe(true);
      expect(res.header('docker-content-digest')).toBe(digest);
    });

    it('HEAD with a Range answers 206 with the slice length and no body', async () => {
      const res = await client.head(path, { Range: 'bytes=500-1499' });
      expect(res.status).toBe(206);
      expect(res.header('content-range')).toBe('bytes 500-1499/2048');
      expect(res.header('content-length')).toBe('1000');
      expect(res.body.length).toBe(0);
    });

    it.each(['bytes=500-0', 'bytes=5000-10000', 'bytes=2048-', 'bytes=-0'])(
      '%s is unsatisfiable: 416 with Content-Range bytes */2048',
      async (range) => {
        const res = await client.get(path, { Range: range });
        expect(res.status).toBe(416);
        expect(res.header('content-range')).toBe('bytes */2048');
      },
    );

    it('a Range in another unit is ignored: 200 with the whole blob', async () => {
      const res = await client.get(path, { Range: 'items=0-1' });
      expect(res.status).toBe(200);
      expect(res.body.equals(blob)).toBe(true);
    });

    it('If-Range with a different ETag serves the whole blob', async () => {
      const res = await client.get(path, { Range: 'bytes=0-9', 'If-Range': `"${sha256('other')}"` });
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(2048);
    });

    it('If-Range with the blob ETag honours the Range', async () => {
      const res = await client.get(path, { Range: 'bytes=0-9', 'If-Range': `"${digest}"` });
      expect(res.status).toBe(206);
      expect(res.body.equals(blob.subarray(0, 10))).toBe(true);
    });
  });

  describe('If-None-Match', () => {
    it('a matching quoted ETag answers 304 with no body', async () => {
      const res = await client.get(path, { 'If-None-Match': `"${digest}"` });
      expect(res.status).toBe(304);
      expect(res.body.length).toBe(0);
      expect(res.header('etag')).toBe(`"${digest}"`);
    });

    it('the bare digest matches too', async () => {
      expect((await client.get(path, { 'If-None-Match': digest })).status).toBe(304);
    });

    it('a different ETag answers 200 with the blob', async () => {
      const res = await client.get(path, { 'If-None-Match': `"${sha256('x')}"` });
      expect(res.status).toBe(200);
      expect(res.body.equals(blob)).toBe(true);
    });
  });

  describe('DELETE', () => {
    it('unlinks the blob from this repository only, then GET answers 404 BLOB_UNKNOWN', async () => {
      const content = randomBlob(300);
      const d = await client.pushBlob('blobs/del-a', content);
      const mount = await client.post(`/v2/blobs/del-b/blobs/uploads/?mount=${d}&from=blobs/del-a`);
      expect(mount.status).toBe(201);

      const del = await client.delete(`/v2/blobs/del-a/blobs/${d}`);
      expect(del.status).toBe(202);
      expect(del.header('content-length')).toBe('0');

      expectError(await client.get(`/v2/blobs/del-a/blobs/${d}`), 404, 'BLOB_UNKNOWN');
      expectHeadError(await client.head(`/v2/blobs/del-a/blobs/${d}`), 404);
      const other = await client.get(`/v2/blobs/del-b/blobs/${d}`);
      expect(other.status).toBe(200);
      expect(other.body.equals(content)).toBe(true);
    });

    it('deleting a blob that is not linked answers 404 BLOB_UNKNOWN', async () => {
      expectError(await client.delete(`/v2/${repo}/blobs/${sha256('never')}`), 404, 'BLOB_UNKNOWN');
      const d = await client.pushBlob('blobs/del-twice', randomBlob(20));
      expect((await client.delete(`/v2/blobs/del-twice/blobs/${d}`)).status).toBe(202);
      expectError(await client.delete(`/v2/blobs/del-twice/blobs/${d}`), 404, 'BLOB_UNKNOWN');
    });

    it('a deleted blob can be pushed again', async () => {
      const content = randomBlob(64);
      const d = await client.pushBlob('blobs/repush', content);
      expect((await client.delete(`/v2/blobs/repush/blobs/${d}`)).status).toBe(202);
      await client.pushBlob('blobs/repush', content);
      const res = await client.get(`/v2/blobs/repush/blobs/${d}`);
      expect(res.status).toBe(200);
      expect(res.body.equals(content)).toBe(true);
    });
  });

  describe('errors', () => {
    it('a malformed digest answers 400 DIGEST_INVALID', async () => {
      expectError(await client.get(`/v2/${repo}/blobs/sha256:abc`), 400, 'DIGEST_INVALID');
      expectError(await client.delete(`/v2/${repo}/blobs/sha256:abc`), 400, 'DIGEST_INVALID');
      expectHeadError(await client.head(`/v2/${repo}/blobs/sha256:abc`), 400);
    });

    it.each(['PUT', 'POST', 'PATCH'])('%s on a blob answers 405 UNSUPPORTED', async (method) => {
      expectError(await client.request(method, path), 405, 'UNSUPPORTED');
    });
  });
});
