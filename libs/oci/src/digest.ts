import { createHash } from 'node:crypto';

export interface ParsedDigest {
  algorithm: string;
  encoded: string;
}

// IMG-1.1.1 digest grammar. Component and separator classes are disjoint, so matching stays linear.
const DIGEST_REGEX = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

// Registered algorithms get their exact encodings; any other syntactically valid algorithm passes
// (IMG-1.1.1 asks implementations to let those through).
// A Map, not an object literal: `constructor` is a syntactically valid algorithm name.
const REGISTERED_ENCODINGS: ReadonlyMap<string, RegExp> = new Map([
  ['sha256', /^[a-f0-9]{64}$/],
  ['sha512', /^[a-f0-9]{128}$/],
]);

export function parseDigest(value: string): ParsedDigest | null {
  if (typeof value !== 'string') return null;
  const match = DIGEST_REGEX.exec(value);
  if (!match) return null;
  const [, algorithm, encoded] = match;
  const encoding = REGISTERED_ENCODINGS.get(algorithm);
  if (encoding && !encoding.test(encoded)) return null;
  return { algorithm, encoded };
}

export function isDigest(value: string): boolean {
  return parseDigest(value) !== null;
}

/** Algorithms the registry can compute, so it can verify content claimed to have such a digest. */
export const SUPPORTED_DIGEST_ALGORITHMS: readonly string[] = ['sha256', 'sha512'];

/** The algorithm content is stored and addressed under; other digests are aliases to it. */
export const CANONICAL_DIGEST_ALGORITHM = 'sha256';

export function isSupportedDigestAlgorithm(algorithm: string): boolean {
  return SUPPORTED_DIGEST_ALGORITHMS.includes(algorithm);
}

/** Digest of `data` under a supported algorithm, as `<algorithm>:<hex>`. */
export function digestOf(data: Buffer | string, algorithm: string = CANONICAL_DIGEST_ALGORITHM): string {
  if (!isSupportedDigestAlgorithm(algorithm)) {
    throw new Error(`unsupported digest algorithm "${algorithm}"`);
  }
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export function sha256(data: Buffer | string): string {
  return digestOf(data, 'sha256');
}

export const EMPTY_BLOB_DIGEST = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Digest of `{}`, the content of the OCI empty descriptor. */
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/**
 * The 32-byte gzip of a 1024-byte all-zero tar that schema1 conversion uses as the blobSum of empty
 * layers. Fixed bytes (not re-compressed at run time) because the digest must match Distribution's.
 */
export const GZIPPED_EMPTY_TAR: Buffer = Buffer.from(
  '1f8b080000096e8800ff621805a360148c5800080000ffff2eafb5ef00040000',
  'hex',
);
export const GZIPPED_EMPTY_TAR_DIGEST =
  'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
