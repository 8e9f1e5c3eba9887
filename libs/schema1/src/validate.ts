/**
 * The digest and name checks schema1 code applies, with Distribution 2.8.2's rules. They are looser
 * than @wharf/oci's grammars (upper-case hex, a `host[:port]/` prefix), so they are kept apart.
 */

const DIGEST_SIZES: Readonly<Record<string, number>> = { sha256: 32, sha384: 48, sha512: 64 };

/**
 * `digest.Digest.Validate()` of the go-digest vendored in Distribution 2.8.2: the whole string
 * matches `[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+`, the algorithm is sha256, sha384 or sha512, and the hex
 * part has twice the hash size in characters. (Upper-case hex passes, as in Distribution.)
 */
export function isSchema1Digest(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = /^([a-zA-Z0-9_+.-]+):([a-fA-F0-9]+)$/.exec(value);
  if (!m) return false;
  const size = DIGEST_SIZES[m[1]];
  return size !== undefined && m[2].length === size * 2;
}

/** `Digest.Hex()`: everything after the first `:`. */
export function digestHex(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

/** Distribution's `RepositoryNameTotalLengthMax`. */
export const SCHEMA1_NAME_MAX = 255;

// OCI path component (the same strings as Distribution's `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`,
// written so that matching stays linear).
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
// Distribution's optional `domain[:port]/` prefix of a reference name.
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const NAME_REGEX = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*$`);

/**
 * The `name` of a pushed schema1 manifest: at most 255 characters and a repository path, which
 * may carry a `host[:port]/` prefix (Distribution's reference grammar; old clients put the full
 * name there). Returns why it fails (empty when valid).
 */
export function schema1NameProblems(name: string): string[] {
  // Over-long names are not run through the regex at all (they are rejected anyway).
  if (name.length > SCHEMA1_NAME_MAX) {
    return [`manifest name must not be more than ${SCHEMA1_NAME_MAX} characters`];
  }
  return NAME_REGEX.test(name) ? [] : ['invalid manifest name format'];
}
