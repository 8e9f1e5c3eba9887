import type { IncomingMessage } from 'node:http';
import { RegistryError } from '@wharf/oci';

/** Manifest bodies are the only ones read whole, and only up to this size (as Distribution). */
export const MANIFEST_MAX_BYTES = 4 << 20;

function tooLarge(): RegistryError {
  return new RegistryError(
    'MANIFEST_INVALID',
    `manifest exceeds the ${MANIFEST_MAX_BYTES} byte limit`,
    undefined,
    413,
  );
}

/**
 * Reads a body of at most `limit` bytes. A larger one answers 413; its remaining bytes are
 * discarded rather than the connection cut, so the client still reads the error.
 */
export function readLimitedBody(req: IncomingMessage, limit = MANIFEST_MAX_BYTES): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limit) {
        req.off('data', onData);
        chunks.length = 0;
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, total)));
    req.once('error', reject);
  });
}
