import { RegistryError } from '@wharf/oci';
import { GoDecodeError } from './go-decode';
import { GoJsonSyntaxError, parseGoJson, type GoJsonNode } from './go-json-parse';

/** parseGoJson, kept as a seam so callers map its errors in one place. */
export function readGoJson(buf: Uint8Array): GoJsonNode {
  return parseGoJson(buf);
}

/** Maps a JSON syntax or Go decode failure to MANIFEST_INVALID; rethrows anything else. */
export function goDecodeError(e: unknown, what: string): RegistryError {
  if (e instanceof RegistryError) return e;
  if (e instanceof GoJsonSyntaxError || e instanceof GoDecodeError) {
    return new RegistryError('MANIFEST_INVALID', `${what}: ${e.message}`);
  }
  throw e;
}
