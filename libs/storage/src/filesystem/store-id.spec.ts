import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FilesystemDriver } from './filesystem.driver';
import { FilesystemLayout } from './paths';
import { ensureStoreId, readStoreId } from './store-id';

describe('store identity', () => {
  let dir: string;
  let root: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-store-id-'));
    root = path.join(dir, 'root');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is created once, at <root>/store-id, and kept: every caller on the root gets the same id', async () => {
    const layout = new FilesystemLayout(root);
    const ids = await Promise.all(Array.from({ length: 8 }, () => ensureStoreId(new FilesystemLayout(root))));
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect((await readFile(path.join(root, 'store-id'), 'utf8')).trim()).toBe(ids[0]);
    expect(await ensureStoreId(layout)).toBe(ids[0]);
    expect(await new FilesystemDriver(root).storeId()).toBe(ids[0]);
    // The staging files are gone: the root holds the id and an empty tmp/.
    expect(await readdir(path.join(root, 'tmp'))).toEqual([]);
  });

  it('reading never writes: a root without an id (or with a file this code did not write) has none', async () => {
    const driver = new FilesystemDriver(root);
    expect(await driver.readStoreId()).toBeNull();
    await expect(readdir(root)).rejects.toMatchObject({ code: 'ENOENT' });
    await mkdir(root);
    await writeFile(path.join(root, 'store-id'), 'not an id\n');
    expect(await readStoreId(new FilesystemLayout(root))).toBeNull();
    await writeFile(path.join(root, 'store-id'), `${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}\n`);
    expect(await driver.readStoreId()).toBe('00000000-0000-4000-8000-000000000000');
  });

  it('another root has another id', async () => {
    const a = await new FilesystemDriver(path.join(dir, 'a')).storeId();
    const b = await new FilesystemDriver(path.join(dir, 'b')).storeId();
    expect(a).not.toBe(b);
  });
});
