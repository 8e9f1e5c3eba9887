import { isDigest } from './digest';
import { isValidTag } from './grammar';

export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: string };

/** The `<reference>` of a manifest URL. Digest first, as Distribution does; null if it is neither. */
export function parseReference(ref: string): Reference | null {
  if (isDigest(ref)) return { kind: 'digest', digest: ref };
  if (isValidTag(ref)) return { kind: 'tag', tag: ref };
  return null;
}

/**
 * A tag can never contain ':', so a reference with one was meant as a digest. A bad one of those is
 * a 400 DIGEST_INVALID, while any other unparseable reference is simply an unknown manifest (404).
 */
export function looksLikeDigest(ref: string): boolean {
  return ref.includes(':');
}
