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

export function methodNotAllowed(method: string): RegistryError {
  return new RegistryError('UNSUPPORTED', `method ${method} is not supported on this resource`);
}

/** `If-None-Match` against an ETag of `"<digest>"`: quoted or not, in a list, or `*`. */
export function etagMatches(header: string | undefined, digest: string): boolean {
  if (!header) return false;
  return header
    .split(',')
    .map((v) =>
      v
        .trim()
        .replace(/^W\//, '')
        .replace(/^"(.*)"$/, '$1'),
    )
    .some((v) => v === digest || v === '*');
}
