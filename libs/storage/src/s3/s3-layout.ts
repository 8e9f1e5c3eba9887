import { assertUploadId, parseDigest } from '../keys';

/*
 * The whole object layout of the S3 driver lives here, so that scrub, import and the driver agree
 * on it and every key is built from validated parts only:
 *
 *   <prefix>blobs/<alg>/<first 2 hex>/<hex>          committed, immutable blobs
 *   <prefix>uploads/<id>/session                     marker: the upload exists (empty object)
 *   <prefix>uploads/<id>/part-<n>-<token>            full part n, written by the append `token`
 *   <prefix>uploads/<id>/tail-<n>-<token>            the bytes of part n received so far
 *   <prefix>uploads/<id>/commit-<token>              {key, uploadId} of a commit's multipart upload,
 *                                                    so that one a crash left open gets aborted
 *
 * Every object under uploads/<id>/ is written once and never overwritten: an append names what
 * it writes with a fresh token, so a crashed or stale writer can never change an object that a
 * persisted handle references. A bucket lifecycle rule on `<prefix>uploads/` (expire after a few
 * days) and AbortIncompleteMultipartUpload are the backstop for writers that died mid-way.
 */

const PREFIX = /^(?:[A-Za-z0-9._-]+\/)*$/;
const TOKEN = /^[0-9a-f]{16}$/;
const UPLOAD_OBJECT = /^(?:(?:part|tail)-[1-9][0-9]{0,4}|commit)-[0-9a-f]{16}$/;
const COMMIT_RECORD = /^commit-[0-9a-f]{16}$/;

export type UploadObjectKind = 'part' | 'tail';

export class S3Layout {
  readonly prefix: string;

  /** `prefix` is empty or a `/`-terminated path of safe segments (`wharf/`, `a/b/`). */
  constructor(prefix = '') {
    const normalised = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    if (!PREFIX.test(normalised) || normalised.split('/').some((s) => s === '.' || s === '..')) {
      throw new RangeError(`invalid S3 key prefix ${JSON.stringify(prefix)}`);
    }
    this.prefix = normalised;
  }

  blobKey(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return `${this.prefix}blobs/${algorithm}/${hex.slice(0, 2)}/${hex}`;
  }

  /** Everything an upload stores lives under this prefix, and nothing else does. */
  uploadPrefix(id: string): string {
    assertUploadId(id);
    return `${this.prefix}uploads/${id}/`;
  }

  uploadMarkerKey(id: string): string {
    return `${this.uploadPrefix(id)}session`;
  }

  uploadObjectKey(id: string, name: string): string {
    assertUploadObjectName(name);
    return `${this.uploadPrefix(id)}${name}`;
  }
}

export function uploadObjectName(kind: UploadObjectKind, part: number, token: string): string {
  const name = `${kind}-${part}-${token}`;
  assertUploadObjectName(name);
  return name;
}

export function commitRecordName(token: string): string {
  const name = `commit-${token}`;
  assertUploadObjectName(name);
  return name;
}

export function isCommitRecordName(name: string): boolean {
  return COMMIT_RECORD.test(name);
}

export function isUploadToken(token: unknown): token is string {
  return typeof token === 'string' && TOKEN.test(token);
}

export function isUploadObjectName(name: unknown): name is string {
  return typeof name === 'string' && UPLOAD_OBJECT.test(name);
}

function assertUploadObjectName(name: string): void {
  if (!isUploadObjectName(name)) throw new RangeError(`invalid upload object name ${JSON.stringify(name)}`);
}
