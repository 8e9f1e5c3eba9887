import { InvalidStorageKeyError } from './errors';

/*
 * Validation shared by every driver: a digest or upload id becomes part of a path or an object
 * key only after it matched one of these, so hostile input never names storage.
 */

// Bounded so every component stays well below NAME_MAX (255 bytes) and S3's 1024-byte key limit;
// the two-character fan-out component needs at least two hex digits.
const DIGEST = /^([a-z0-9]{1,32}):([a-f0-9]{2,128})$/;
const TOKEN = /^[A-Za-z0-9-]{1,128}$/;

export interface ParsedDigest {
  algorithm: string;
  hex: string;
}

export function parseDigest(digest: unknown): ParsedDigest {
  const match = typeof digest === 'string' ? DIGEST.exec(digest) : null;
  if (!match) throw new InvalidStorageKeyError('digest', digest);
  return { algorithm: match[1], hex: match[2] };
}

export function assertUploadId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !TOKEN.test(id)) throw new InvalidStorageKeyError('upload id', id);
}
