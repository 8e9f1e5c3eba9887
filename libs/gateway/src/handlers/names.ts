import { RegistryError, isValidRepositoryName, parseDigest } from '@wharf/oci';

/** Names and digests are checked before they reach a query or a path. */
export function requireName(name: string): string {
  if (!isValidRepositoryName(name))
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { name });
  return name;
}

export function requireDigest(digest: string): string {
  if (!parseDigest(digest)) throw new RegistryError('DIGEST_INVALID', 'invalid digest', { digest });
  return digest;
}
