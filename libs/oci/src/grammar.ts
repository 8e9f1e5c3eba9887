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
