import * as path from 'node:path';
import { assertUploadId, parseDigest } from '../keys';

/*
 * The whole on-disk layout of the filesystem driver lives here, so that scrub, import and the
 * driver agree on it and every path is built from validated parts only:
 *
 *   <root>/blobs/<alg>/<first 2 hex>/<hex>/data   committed, immutable blobs
 *   <root>/uploads/<id>                            uploads in progress
 *   <root>/tmp/<uuid>                              putBlob staging (same filesystem, so rename is atomic)
 *   <root>/store-id                                this store's identity (store-id.ts), written once
 */

export { assertUploadId, parseDigest, type ParsedDigest } from '../keys';

export class FilesystemLayout {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** The directory that holds only this blob; removed with it. */
  blobDir(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return path.join(this.root, 'blobs', algorithm, hex.slice(0, 2), hex);
  }

  blobPath(digest: string): string {
    return path.join(this.blobDir(digest), 'data');
  }

  get uploadsDir(): string {
    return path.join(this.root, 'uploads');
  }

  uploadPath(id: string): string {
    assertUploadId(id);
    return path.join(this.uploadsDir, id);
  }

  get tmpDir(): string {
    return path.join(this.root, 'tmp');
  }

  /** Tells processes that mount the root whether they look at the same store (ADR 23). */
  get storeIdPath(): string {
    return path.join(this.root, 'store-id');
  }

  tmpPath(token: string): string {
    assertUploadId(token);
    return path.join(this.tmpDir, token);
  }
}
