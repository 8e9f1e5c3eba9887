import { truncateSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startInProcessRegistry } from './support/in-process';
import type { TestRegistry } from './support/registry';
import { storageRoot, uploadsLeft } from './api/support/storage';

// The filesystem driver fsyncs an upload once, at commit, not chunk by chunk. After a machine crash
// the session may record more bytes than survived: the upload must fail cleanly, never half-commit.
describe('an upload that lost unsynced bytes', () => {
  let registry: TestRegistry;

  beforeAll(async () => {
    registry = await startInProcessRegistry({});
  });

  afterAll(() => registry.stop());

  async function startWithChunk(repo: string, body: Buffer): Promise<string> {
    const post = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    const location = post.headers.get('location')!;
    const patch = await fetch(location, { method: 'PATCH', body });
    expect(patch.status).toBe(202);
    return new URL(location, registry.url).toString();
  }

  /** What a machine crash leaves: the upload file shorter than the offset the session recorded. */
  function loseTail(keep: number): void {
    const [file] = uploadsLeft(registry);
    truncateSync(join(storageRoot(registry), 'uploads', file), keep);
  }

  async function errorCode(res: Response): Promise<string> {
    return ((await res.json()) as { errors: { code: string }[] }).errors[0].code;
  }

  it('a further chunk answers 404 BLOB_UPLOAD_INVALID', async () => {
    const location = await startWithChunk('lost/patch', Buffer.alloc(4096, 1));
    loseTail(1000);
    const patch = await fetch(location, { method: 'PATCH', body: Buffer.alloc(10, 2) });
    expect(patch.status).toBe(404);
    expect(await errorCode(patch)).toBe('BLOB_UPLOAD_INVALID');
    await fetch(location, { method: 'DELETE' });
  });

  it('the closing PUT answers 404 BLOB_UPLOAD_INVALID and no blob appears; a new upload works', async () => {
    const content = Buffer.alloc(4096, 3);
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const location = await startWithChunk('lost/put', content);
    loseTail(2048);
    const put = await fetch(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, {
      method: 'PUT',
    });
    expect(put.status).toBe(404);
    expect(await errorCode(put)).toBe('BLOB_UPLOAD_INVALID');
    expect((await fetch(`${registry.url}/v2/lost/put/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404);
    await fetch(location, { method: 'DELETE' });

    const again = await fetch(`${registry.url}/v2/lost/put/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: content,
    });
    expect(again.status).toBe(201);
    const blob = await fetch(`${registry.url}/v2/lost/put/blobs/${digest}`);
    expect(Buffer.from(await blob.arrayBuffer()).equals(content)).toBe(true);
  });
});
