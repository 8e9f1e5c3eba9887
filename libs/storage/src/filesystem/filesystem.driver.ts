import { randomUUID } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { mkdir, open, rename, rmdir, stat, truncate, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobDriver, StoredBlob, UploadHandle } from '../driver';
import { InvalidStorageKeyError } from '../errors';
import { FileRangeStream } from './file-stream';
import { assertUploadId, FilesystemLayout } from './paths';
import { ensureStoreId, readStoreId } from './store-id';

const DRIVER_NAME = 'filesystem';
/** Bytes an append buffers between the request and the file (bounded: one per upload in flight). */
const WRITE_BUFFER = 1024 * 1024;

interface FilesystemUploadHandle extends UploadHandle {
  readonly driver: typeof DRIVER_NAME;
  // Only the id is persisted, never a path: the handle comes back from the database, and a path in
  // it would both escape validation and break when the data directory moves.
  readonly id: string;
}

/**
 * Stores blobs as files under a root directory (layout in ./paths.ts). Visibility is atomic
 * through rename(2) within one filesystem; a blob is fsynced before it becomes visible. Upload
 * chunks are not fsynced one by one (see appendUpload).
 */
export class FilesystemDriver implements BlobDriver {
  readonly name = DRIVER_NAME;
  /** One socket read: the write stream's buffer (WRITE_BUFFER) keeps the socket reading. */
  readonly readAhead = 64 * 1024;
  private readonly layout: FilesystemLayout;

  constructor(root: string) {
    this.layout = new FilesystemLayout(root);
  }

  async createUpload(id: string): Promise<UploadHandle> {
    const file = this.layout.uploadPath(id);
    // 'wx': ids are unique, so an existing file means a reused id; never truncate someone's upload.
    // Not fsynced, nor is its directory: like the chunks (see appendUpload), an upload is made
    // durable at commit, and one that a machine crash took is answered BLOB_UPLOAD_UNKNOWN.
    const fh = await open(file, 'wx').catch(async (err: unknown) => {
      if (!isCode(err, 'ENOENT')) throw err;
      await mkdir(this.layout.uploadsDir, { recursive: true });
      return open(file, 'wx');
    });
    await fh.close();
    const handle: FilesystemUploadHandle = { driver: DRIVER_NAME, id };
    return handle;
  }

  async appendUpload(
    handle: UploadHandle,
    offset: number,
    data: Readable,
  ): Promise<{ handle: UploadHandle; written: number }> {
    const file = this.uploadFile(handle);
    assertCount('offset', offset);
    // Every file operation is a trip through the thread pool, and a small push is mostly such trips:
    // at offset 0 nothing was accepted yet, so O_TRUNC clears whatever a crashed earlier append left
    // without a stat or a truncate of its own. Never O_CREAT: a file a cancel removed stays removed.
    const fh = await open(file, offset === 0 ? constants.O_WRONLY | constants.O_TRUNC : 'r+');
    let length = 0;
    try {
      if (offset > 0) length = (await fh.stat()).size;
      if (length < offset) {
        // Writing would leave a hole of zeros that the caller believes holds accepted bytes.
        throw new RangeError(`append at offset ${offset} past the ${length} bytes stored`);
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    // With the default 16 KiB buffer every socket read exceeds it, so the request pauses until each
    // write returns; a larger one keeps the socket reading while writes are in flight. The stream
    // closes the handle when it ends or fails, after its last write.
    const out = fh.createWriteStream({ start: offset, highWaterMark: WRITE_BUFFER });
    await pipeline(data, out);
    const written = out.bytesWritten;
    // Bytes that a crashed earlier append left past the new end must not survive.
    if (length > offset + written) await truncate(file, offset + written);
    // No fsync per chunk (it cost ~40 ms per 5 MiB here, most of a chunked push): a process crash
    // keeps page-cached bytes, and after a machine crash the recorded offset may run past what
    // survived, which the next append refuses and the commit's digest check catches (it re-hashes
    // the stored bytes after a restart). commitUpload fsyncs before the file becomes a blob.
    return { handle, written };
  }

  async readUpload(handle: UploadHandle, size: number): Promise<Readable> {
    const file = this.uploadFile(handle);
    assertCount('size', size);
    return openRange(file, size, size === 0 ? null : { start: 0, end: size - 1 });
  }

  async commitUpload(handle: UploadHandle, size: number, digest: string): Promise<void> {
    const file = this.uploadFile(handle);
    const target = this.layout.blobPath(digest);
    assertCount('size', size);
    // A retried commit whose first attempt got as far as the rename finds the blob published, and
    // so does every commit but the first of a layer pushed concurrently (they all HEADed before any
    // finished): publish drops their copy before it is synced.
    await this.publish(file, target, async () => {
      const fh = await open(file, 'r+');
      try {
        const { size: length } = await fh.stat();
        if (length < size) throw new RangeError(`commit of ${size} bytes but the upload holds ${length}`);
        // Bytes a crashed append left past `size` are cut; then everything is made durable, once,
        // before the file becomes the blob (appendUpload does not fsync).
        if (length > size) await fh.truncate(size);
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
  }

  async abortUpload(handle: UploadHandle): Promise<void> {
    await unlinkIfPresent(this.uploadFile(handle));
  }

  async putBlob(digest: string, content: Buffer): Promise<void> {
    const target = this.layout.blobPath(digest);
    const tmp = this.layout.tmpPath(randomUUID());
    try {
      await this.publish(tmp, target, async () => {
        const created = await mkdir(this.layout.tmpDir, { recursive: true });
        await this.syncNewDirs(this.layout.tmpDir, created);
        const fh = await open(tmp, 'wx');
        try {
          await fh.writeFile(content);
          await fh.sync();
        } finally {
          await fh.close();
        }
      });
    } catch (err) {
      await unlinkIfPresent(tmp);
      throw err;
    }
  }

  async stat(digest: string): Promise<StoredBlob | null> {
    try {
      const s = await stat(this.layout.blobPath(digest));
      return { size: s.size };
    } catch (err) {
      if (isCode(err, 'ENOENT', 'ENOTDIR')) return null;
      throw err;
    }
  }

  async read(digest: string, range?: { start: number; end: number }): Promise<Readable> {
    const file = this.layout.blobPath(digest);
    if (range) {
      assertCount('range start', range.start);
      assertCount('range end', range.end);
      if (range.end < range.start) throw new RangeError(`range end ${range.end} before start ${range.start}`);
    }
    return openRange(file, null, range ?? null);
  }

  /** This root's identity (store-id.ts), created on the first call. */
  storeId(): Promise<string> {
    return ensureStoreId(this.layout);
  }

  /** The identity this root holds, or null; never writes (for processes that only read blobs). */
  readStoreId(): Promise<string | null> {
    return readStoreId(this.layout);
  }

  async delete(digest: string): Promise<void> {
    const file = this.layout.blobPath(digest);
    await unlinkIfPresent(file);
    try {
      await rmdir(path.dirname(file));
    } catch (err) {
      // ENOTEMPTY: a concurrent commit already put the blob back; it wins.
      if (!isCode(err, 'ENOENT', 'ENOTEMPTY')) throw err;
    }
  }

  private uploadFile(handle: UploadHandle): string {
    if (handle === null || typeof handle !== 'object' || handle.driver !== DRIVER_NAME) {
      throw new InvalidStorageKeyError('upload handle', handle);
    }
    const id = handle['id'];
    assertUploadId(id);
    return this.layout.uploadPath(id);
  }

  /**
   * Moves `source` to `target` atomically, or drops it when `target` exists (same digest, same
   * bytes). `prepare` makes `source` complete and durable; it runs once, and only when the blob
   * is not there already, so a copy about to be dropped is never written out or synced.
   */
  private async publish(source: string, target: string, prepare: () => Promise<void>): Promise<void> {
    const dir = path.dirname(target);
    let prepared = false;
    // A concurrent delete of the same digest may remove the directory between mkdir and rename.
    for (let attempt = 0; ; attempt++) {
      if (await exists(target)) {
        await unlinkIfPresent(source);
        return;
      }
      if (!prepared) {
        await prepare();
        prepared = true;
      }
      const created = await mkdir(dir, { recursive: true });
      try {
        // Two commits racing past the exists() check both rename; content is identical (same digest),
        // readers see one whole file or the other, and one copy remains.
        await rename(source, target);
      } catch (err) {
        if (isCode(err, 'ENOENT') && attempt < 3 && (await exists(source))) continue;
        throw err;
      }
      // Both must be durable before the blob is acknowledged; in which order does not matter.
      await Promise.all([this.syncNewDirs(dir, created), syncDir(dir)]);
      return;
    }
  }

  /** fsyncs the parents of directories that `mkdir -p` created, so they survive a crash too. */
  private async syncNewDirs(dir: string, firstCreated: string | undefined): Promise<void> {
    if (firstCreated === undefined) return;
    const stop = path.dirname(firstCreated);
    const dirs: string[] = [];
    for (let d = path.dirname(dir); ; d = path.dirname(d)) {
      dirs.push(d);
      if (d === stop || d === path.dirname(d)) break;
    }
    await Promise.all(dirs.map(syncDir));
  }
}

/**
 * Opens the file first so that absence rejects the promise (a stream would only fail later), and
 * so the returned stream keeps reading the same inode even if the blob is deleted meanwhile.
 */
async function openRange(
  file: string,
  minLength: number | null,
  range: { start: number; end: number } | null,
): Promise<Readable> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (minLength !== null && size < minLength) {
      throw new RangeError(`read of ${minLength} bytes but the upload holds ${size}`);
    }
    if (range && range.end >= size) {
      throw new RangeError(`range ${range.start}-${range.end} outside ${size} bytes`);
    }
    if (minLength === 0) {
      await fh.close();
      return Readable.from([], { objectMode: false });
    }
    return new FileRangeStream(fh, range?.start ?? 0, range ? range.end + 1 : size);
  } catch (err) {
    await fh.close();
    throw err;
  }
}

async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(dir, 'r');
  } catch (err) {
    // Some platforms (Windows) cannot open a directory for fsync; rename is all they offer.
    if (isCode(err, 'EISDIR', 'EPERM', 'EACCES')) return;
    throw err;
  }
  try {
    await fh.sync();
  } catch (err) {
    if (!isCode(err, 'EINVAL', 'EPERM', 'EBADF')) throw err;
  } finally {
    await fh.close();
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if (isCode(err, 'ENOENT', 'ENOTDIR')) return false;
    throw err;
  }
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if (!isCode(err, 'ENOENT', 'ENOTDIR')) throw err;
  }
}

function assertCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer: ${n}`);
}

function isCode(err: unknown, ...codes: string[]): boolean {
  return (
    typeof err === 'object' && err !== null && codes.includes((err as { code?: unknown }).code as string)
  );
}
