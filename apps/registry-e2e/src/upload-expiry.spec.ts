import { startInProcessRegistry } from './support/in-process';
import type { TestRegistry } from './support/registry';
import { uploadsLeft } from './api/support/storage';

// WHARF_UPLOAD_TTL: an idle session is forgotten and its bytes deleted; an active one is not.
describe('upload session expiry', () => {
  let registry: TestRegistry;

  beforeAll(async () => {
    registry = await startInProcessRegistry({ WHARF_UPLOAD_TTL: '1500ms' });
  });

  afterAll(() => registry.stop());

  async function startWithChunk(): Promise<string> {
    const post = await fetch(`${registry.url}/v2/expiry/app/blobs/uploads/`, { method: 'POST' });
    const location = post.headers.get('location')!;
    const patch = await fetch(location, { method: 'PATCH', body: Buffer.alloc(1024, 7) });
    expect(patch.status).toBe(202);
    return location;
  }

  it('an idle session answers 404 BLOB_UPLOAD_UNKNOWN after the TTL and its bytes are purged', async () => {
    const location = await startWithChunk();
    expect(uploadsLeft(registry)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 2000));

    const status = await fetch(location);
    expect(status.status).toBe(404);
    expect(((await status.json()) as { errors: { code: string }[] }).errors[0].code).toBe(
      'BLOB_UPLOAD_UNKNOWN',
    );
    const patch = await fetch(location, { method: 'PATCH', body: Buffer.alloc(10) });
    expect(patch.status).toBe(404);

    // The purge runs on a timer of a fraction of the TTL (at least 1 s).
    const deadline = Date.now() + 10_000;
    while (uploadsLeft(registry).length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(uploadsLeft(registry)).toEqual([]);
  });

  it('a session that keeps receiving chunks does not expire', async () => {
    const location = await startWithChunk();
    for (let i = 1; i <= 4; i++) {
      await new Promise((r) => setTimeout(r, 700));
      const patch = await fetch(location, { method: 'PATCH', body: Buffer.alloc(1024, i) });
      expect(patch.status).toBe(202);
    }
    const status = await fetch(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${5 * 1024 - 1}`);
    await fetch(location, { method: 'DELETE' });
  });
});
