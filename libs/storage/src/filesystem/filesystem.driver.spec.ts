import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { runBlobDriverSuite } from '../testing';
import { InvalidStorageKeyError } from '../errors';
import { FilesystemDriver } from './filesystem.driver';

runBlobDriverSuite('filesystem', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'wharf-storage-'));
  return {
    driver: new FilesystemDriver(path.join(dir, 'root')),
    reopen: () => new FilesystemDriver(path.join(dir, 'root')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('FilesystemDriver', () => {
  let dir: string;
  let root: string;
  let driver: FilesystemDriver;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-storage-'));
    root = path.join(dir, 'root');
    driver = new FilesystemDriver(root);
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  const digestOf = (content: Buffer) => `sha256:${createHash('sha256').update(content).digest('hex')}`;

  async function listFiles(from: string): Promise<string[]> {
    const entries = await readdir(from, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => path.relative(from, path.join(e.parentPath ?? e.path, e.name)))
      .sort();
  }

  it('stores a committed blob at blobs/<alg>/<first 2 hex>/<hex>/data', async () => {
    const content = randomBytes(100);
    const hex = digestOf(content).slice('sha256:'.length);
    await driver.putBlob(digestOf(content), content);

    const file = path.join(root, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    expect(await readFile(file)).toEqual(content);
  });

  it('keeps an upload at uploads/<id> until it commits', async () => {
    const id = randomUUID();
    const handle = await driver.createUpload(id);
    await driver.appendUpload(handle, 0, Readable.from([Buffer.from('abc')]));

    expect(await readFile(path.join(root, 'uploads', id), 'utf8')).toBe('abc');
  });

  it('leaves no upload or temporary file behind after commit and putBlob', async () => {
    const content = randomBytes(1000);
    const handle = await driver.createUpload(randomUUID());
    await driver.appendUpload(handle, 0, Readable.from([content]));
    await driver.commitUpload(handle, content.length, digestOf(content));
    const small = Buffer.from('config');
    await driver.putBlob(digestOf(small), small);
    await driver.putBlob(digestOf(small), small);

    const blobFile = (d: string) => {
      const hex = d.slice('sha256:'.length);
      return path.join('blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    };
    expect(await listFiles(root)).toEqual([blobFile(digestOf(content)), blobFile(digestOf(small))].sort());
  });

  it('keeps one file when the same content is committed twice concurrently', async () => {
    const content = randomBytes(10_000);
    const handles = await Promise.all([1, 2, 3].map(() => driver.createUpload(randomUUID())));
    await Promise.all(handles.map((h) => driver.appendUpload(h, 0, Readable.from([content]))));
    await Promise.all(handles.map((h) => driver.commitUpload(h, content.length, digestOf(content))));

    expect(await listFiles(root)).toHaveLength(1);
  });

  it('delete removes the digest directory as well as the blob', async () => {
    const content = randomBytes(10);
    const hex = digestOf(content).slice('sha256:'.length);
    await driver.putBlob(digestOf(content), content);
    await driver.delete(digestOf(content));

    expect(await readdir(path.join(root, 'blobs', 'sha256', hex.slice(0, 2)))).toEqual([]);
  });

  it('a retried commit after the first one published the blob succeeds', async () => {
    const content = randomBytes(10);
    const handle = await driver.createUpload(randomUUID());
    await driver.appendUpload(handle, 0, Readable.from([content]));
    await driver.commitUpload(handle, content.length, digestOf(content));

    await expect(driver.commitUpload(handle, content.length, digestOf(content))).resolves.toBeUndefined();
  });

  it('a commit of a digest already published drops the upload and leaves the blob as it was', async () => {
    const content = randomBytes(2000);
    const [first, second] = await Promise.all([1, 2].map(() => driver.createUpload(randomUUID())));
    for (const h of [first, second]) await driver.appendUpload(h, 0, Readable.from([content]));
    await driver.commitUpload(first, content.length, digestOf(content));
    const hex = digestOf(content).slice('sha256:'.length);
    const blob = path.join(root, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    const before = await stat(blob);

    await driver.commitUpload(second, content.length, digestOf(content));
    expect((await stat(blob)).ino).toBe(before.ino);
    expect(await readFile(blob)).toEqual(content);
    expect(await listFiles(root)).toEqual([path.relative(root, blob)]);
  });

  it('an append at offset 0 replaces what an unacknowledged earlier append left', async () => {
    const handle = await driver.createUpload(randomUUID());
    // A first PATCH wrote bytes, then its session update never happened (crash): offset is still 0.
    await driver.appendUpload(handle, 0, Readable.from([Buffer.from('stale bytes, longer')]));
    await driver.appendUpload(handle, 0, Readable.from([Buffer.from('fresh')]));
    await driver.appendUpload(handle, 5, Readable.from([Buffer.from('+more')]));

    const content = Buffer.from('fresh+more');
    await driver.commitUpload(handle, content.length, digestOf(content));
    expect(
      await readFile(
        path.join(root, 'blobs', 'sha256', digestOf(content).slice(7, 9), digestOf(content).slice(7), 'data'),
      ),
    ).toEqual(content);
  });

  it('an append to an upload whose file is gone fails rather than recreating it', async () => {
    const id = randomUUID();
    const handle = await driver.createUpload(id);
    await driver.abortUpload(handle);

    await expect(driver.appendUpload(handle, 0, Readable.from([Buffer.from('x')]))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect(await listFiles(root)).toEqual([]);
  });

  it('an append past the bytes stored rejects instead of leaving a hole', async () => {
    const handle = await driver.createUpload(randomUUID());
    await driver.appendUpload(handle, 0, Readable.from([Buffer.from('abc')]));

    await expect(driver.appendUpload(handle, 10, Readable.from([Buffer.from('x')]))).rejects.toThrow(
      RangeError,
    );
  });

  it('a commit of more bytes than the upload holds rejects and publishes nothing', async () => {
    const content = Buffer.from('abc');
    const handle = await driver.createUpload(randomUUID());
    await driver.appendUpload(handle, 0, Readable.from([content]));

    await expect(driver.commitUpload(handle, 4, digestOf(content))).rejects.toThrow(RangeError);
    expect(await driver.stat(digestOf(content))).toBeNull();
  });

  it('creating an upload with an id already in use rejects without truncating it', async () => {
    const id = randomUUID();
    const handle = await driver.createUpload(id);
    await driver.appendUpload(handle, 0, Readable.from([Buffer.from('abc')]));

    await expect(driver.createUpload(id)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(path.join(root, 'uploads', id), 'utf8')).toBe('abc');
  });

  it('a blob being read survives its deletion until the reader finishes', async () => {
    const content = randomBytes(5000);
    await driver.putBlob(digestOf(content), content);
    const stream = await driver.read(digestOf(content));
    await driver.delete(digestOf(content));

    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks)).toEqual(content);
  });

  describe('hostile input', () => {
    const hostileDigests = [
      'sha256:../../etc',
      '../sha256:abcd',
      'sha256:ab/cd',
      'sha256:..',
      'sha256:ABCDEF',
      'sha256:',
      'sha256:a',
      ':abcd',
      'sha256:abcd\0',
      'sha256:abcd\n',
      'sha/256:abcd',
      `sha256:${'a'.repeat(300)}`,
      '',
    ];
    const hostileIds = ['../x', '..', '.', '', 'a/b', 'a\\b', '/etc/passwd', 'x\0', 'a.b', 'x'.repeat(200)];

    // Leave something outside the root that an escape would reach.
    beforeEach(async () => {
      await mkdir(path.join(dir, 'outside'));
      await writeFile(path.join(dir, 'outside', 'x'), 'keep');
    });

    async function expectUntouched(): Promise<void> {
      expect((await readdir(dir)).sort()).toEqual(['outside']);
      expect(await readFile(path.join(dir, 'outside', 'x'), 'utf8')).toBe('keep');
    }

    it.each(hostileDigests)('digest %j is rejected without touching the filesystem', async (digest) => {
      const handle = { driver: 'filesystem', id: randomUUID() };
      const invalid = expect.any(InvalidStorageKeyError);
      await expect(driver.stat(digest)).rejects.toEqual(invalid);
      await expect(driver.read(digest)).rejects.toEqual(invalid);
      await expect(driver.read(digest, { start: 0, end: 0 })).rejects.toEqual(invalid);
      await expect(driver.delete(digest)).rejects.toEqual(invalid);
      await expect(driver.putBlob(digest, Buffer.from('x'))).rejects.toEqual(invalid);
      await expect(driver.commitUpload(handle, 0, digest)).rejects.toEqual(invalid);
      await expectUntouched();
    });

    it.each(hostileIds)('upload id %j is rejected without touching the filesystem', async (id) => {
      const handle = { driver: 'filesystem', id };
      const invalid = expect.any(InvalidStorageKeyError);
      await expect(driver.createUpload(id)).rejects.toEqual(invalid);
      await expect(driver.appendUpload(handle, 0, Readable.from([Buffer.from('x')]))).rejects.toEqual(
        invalid,
      );
      await expect(driver.readUpload(handle, 0)).rejects.toEqual(invalid);
      await expect(driver.commitUpload(handle, 0, digestOf(Buffer.alloc(0)))).rejects.toEqual(invalid);
      await expect(driver.abortUpload(handle)).rejects.toEqual(invalid);
      await expectUntouched();
    });

    it('a handle from another driver or without an id is rejected', async () => {
      const invalid = expect.any(InvalidStorageKeyError);
      await expect(driver.abortUpload({ driver: 's3', id: randomUUID() })).rejects.toEqual(invalid);
      await expect(driver.abortUpload({ driver: 'filesystem' })).rejects.toEqual(invalid);
      await expect(driver.abortUpload({ driver: 'filesystem', id: 42 })).rejects.toEqual(invalid);
      await expectUntouched();
    });
  });
});
