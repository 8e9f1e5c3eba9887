import { RegistryError } from './errors';

/** Distribution's RepositoryNameTotalLengthMax; many clients also cap `host/name` there. */
export const REPOSITORY_NAME_MAX = 255;

// OCI-1.1.1 name grammar. Separators and alphanumerics are disjoint, so matching stays linear.
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPOSITORY_NAME_REGEX = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);

const TAG_REGEX = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/**
 * Names become storage paths and query keys, so this is also the guard against traversal: a
 * component must start with an alphanumeric, which rules out `.`, `..` and empty components.
 */
export function isValidRepositoryName(name: string): boolean {
  return typeof name === 'string' && name.length <= REPOSITORY_NAME_MAX && REPOSITORY_NAME_REGEX.test(name);
}

export function isValidTag(tag: string): boolean {
  return typeof tag === 'string' && TAG_REGEX.test(tag);
}

export function assertRepositoryName(name: string): void {
  if (!isValidRepositoryName(name)) {
    throw new RegistryError('NAME_INVALID', undefined, { name });
  }
}

// Upload ids are the lower-case UUIDs the blob service issues (randomUUID); nothing else names one.
const UPLOAD_ID_REGEX = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isValidUploadId(id: string): boolean {
  return typeof id === 'string' && UPLOAD_ID_REGEX.test(id);
}

/** An upload session the registry does not have: never issued, finished, cancelled or expired. */
export function unknownUpload(id: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { id });
}

/**
 * An id that cannot name a session is unknown without asking anyone: the gateway checks it before
 * any hop, so a hostile id (thousands of characters, `/`, `%`) never reaches an internal port.
 */
export function requireUploadId(id: string): string {
  if (!isValidUploadId(id)) throw unknownUpload(id);
  return id;
}
