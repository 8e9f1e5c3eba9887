import type { BlobApi } from '@wharf/contracts';
import {
  MT_DOCKER_MANIFEST,
  digestOf,
  isSupportedDigestAlgorithm,
  parseDigest,
  type ParsedManifest,
} from '@wharf/oci';

/**
 * Largest image config kept beside its manifest, the same bound as a manifest body. Real configs
 * are a few KiB; anything near this is not an image a Docker 1.9 client could run anyway.
 */
export const IMAGE_CONFIG_MAX = 4 << 20;

/**
 * Reads a config blob through the blob service, holding at most `max` bytes: null as soon as the
 * stream passes the bound, and null when the bytes do not hash to `digest` (whatever the blob
 * service holds under that name, a config that is not the one named must never be stored).
 * BLOB_UNKNOWN from the blob service propagates.
 */
export async function readImageConfig(
  blobs: Pick<BlobApi, 'openBlob'>,
  digest: string,
  max: number = IMAGE_CONFIG_MAX,
): Promise<Buffer | null> {
  const parsed = parseDigest(digest);
  if (!parsed || !isSupportedDigestAlgorithm(parsed.algorithm)) return null;
  const stream = await blobs.openBlob({ digest });
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      size += buf.length;
      if (size > max) return null;
      chunks.push(buf);
    }
  } finally {
    stream.destroy();
  }
  const body = Buffer.concat(chunks, size);
  return digestOf(body, parsed.algorithm) === digest ? body : null;
}

/**
 * The config to store beside a manifest at PUT time: only Docker schema2 images are ever rewritten
 * to schema1, so only theirs is kept. Null when there is nothing to keep or it cannot be read now;
 * the rewrite then loads it from the blob service on first use and backfills the row.
 */
export async function configToStore(
  blobs: Pick<BlobApi, 'openBlob'> | undefined,
  manifest: ParsedManifest,
): Promise<Buffer | null> {
  const config = manifest.config;
  if (!blobs || manifest.mediaType !== MT_DOCKER_MANIFEST || !config || config.size > IMAGE_CONFIG_MAX) {
    return null;
  }
  try {
    return await readImageConfig(blobs, config.digest);
  } catch {
    // A config that is not there makes the PUT fail with MANIFEST_BLOB_UNKNOWN a moment later, or,
    // for a manifest proxied from an upstream, is simply not filled yet (nothing is kept then). Any
    // other read failure must not fail a push whose config is only an optimisation to keep.
    return null;
  }
}
