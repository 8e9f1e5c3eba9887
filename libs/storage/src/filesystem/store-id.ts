import { randomUUID } from 'node:crypto';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import type { FilesystemLayout } from './paths';

const STORE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** More than an id and its newline: a larger file is not one this code wrote. */
const MAX_READ = 128;

/*
 * A store's identity: a random id in `<root>/store-id`, written by the first blob service that
 * starts on the root and kept from then on. A gateway that finds the id the blob services report
 * in its own WHARF_STORAGE_ROOT knows it mounts the store they write to (ADR 23); a path that
 * merely exists (an empty volume, another installation's copy) proves nothing.
 */

/** The root's id, created when it has none. Concurrent callers on one root all get the same id. */
export async function ensureStoreId(layout: FilesystemLayout): Promise<string> {
  const existing = await readStoreId(layout);
  if (existing) return existing;
  await mkdir(layout.tmpDir, { recursive: true });
  const tmp = layout.tmpPath(randomUUID());
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(`${randomUUID()}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    // Written whole first, then linked in: link(2) never replaces a file, so of services starting
    // together exactly one id wins, and no reader ever sees a partial one.
    await link(tmp, layout.storeIdPath).catch(async (err: unknown) => {
      if (isCode(err, 'EEXIST')) return;
      // Filesystems without hard links (SMB): O_EXCL still lets only one writer create it; a reader
      // racing the write finds no id yet and treats the store as unknown until it asks again.
      if (!isCode(err, 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS')) throw err;
      const out = await open(layout.storeIdPath, 'wx').catch((e: unknown) => {
        if (isCode(e, 'EEXIST')) return null;
        throw e;
      });
      if (!out) return;
      try {
        await out.writeFile(`${randomUUID()}\n`);
        await out.sync();
      } finally {
        await out.close();
      }
    });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const id = await readStoreId(layout);
  if (!id) throw new Error(`${layout.storeIdPath} holds no store id`);
  return id;
}

/**
 * The root's id, or null when it has none that this code wrote (absent, unreadable, malformed).
 * Reads only: a process that merely mounts the root (a gateway) never writes to it.
 */
export async function readStoreId(layout: FilesystemLayout): Promise<string | null> {
  let fh;
  try {
    fh = await open(layout.storeIdPath, 'r');
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(MAX_READ);
    const { bytesRead } = await fh.read(buf, 0, MAX_READ, 0);
    const id = buf.subarray(0, bytesRead).toString('utf8').trim();
    return STORE_ID.test(id) ? id : null;
  } catch {
    return null;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function isCode(err: unknown, ...codes: string[]): boolean {
  return (
    typeof err === 'object' && err !== null && codes.includes((err as { code?: unknown }).code as string)
  );
}
