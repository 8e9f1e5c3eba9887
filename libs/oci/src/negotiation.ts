import { Descriptor, Platform } from './descriptor';
import {
  baseMediaType,
  isSchema1MediaType,
  MT_DOCKER_LIST,
  MT_DOCKER_MANIFEST,
  MT_OCI_INDEX,
} from './media-types';

export interface AcceptSet {
  /** Bare, lower-cased media types the client listed. */
  types: ReadonlySet<string>;
  /** `*\/*` or `application/*` was listed. */
  wildcard: boolean;
}

export type Negotiation =
  | { action: 'serve' }
  | { action: 'not-found'; message: string }
  /** Pick the default platform's child (`selectPlatform`) and negotiate again for it, by tag. */
  | { action: 'select-platform' }
  /** Rewrite the Docker schema2 manifest to signed schema1. */
  | { action: 'schema1' };

const WILDCARDS = new Set(['*/*', 'application/*']);

/** Clients send a handful of distinct Accept headers, and every manifest GET parses one. */
const parsedAccepts = new Map<string, AcceptSet>();
const PARSED_ACCEPTS_MAX = 256;

/**
 * Each Accept header line may list several types. Parameters (q-values included) are ignored, as
 * Distribution ignores them: listing a type at all is what counts. The result is shared: read only.
 */
export function parseAccept(values: readonly string[]): AcceptSet {
  // Lines are split on commas anyway, so joining them with one names the same set of types.
  const key = values.length === 1 ? values[0] : values.join(',');
  const known = parsedAccepts.get(key);
  if (known) return known;
  const parsed = parseAcceptLines(values);
  if (parsedAccepts.size >= PARSED_ACCEPTS_MAX) parsedAccepts.clear();
  parsedAccepts.set(key, parsed);
  return parsed;
}

function parseAcceptLines(values: readonly string[]): AcceptSet {
  const types = new Set<string>();
  let wildcard = false;
  for (const item of values.flatMap((value) => value.split(','))) {
    const type = baseMediaType(item);
    if (type === '') continue;
    if (WILDCARDS.has(type)) wildcard = true;
    else types.add(type);
  }
  return { types, wildcard };
}

const SERVE: Negotiation = { action: 'serve' };

// Distribution's wording, which clients and people search for.
const INDEX_NOT_ACCEPTED = 'OCI index found, but accept header does not support OCI indexes';
const MANIFEST_NOT_ACCEPTED = 'OCI manifest found, but accept header does not support OCI manifests';

/**
 * What to answer for a stored manifest of type `stored` (PROTOCOL.md §3.3, with Wharf's choice of
 * always serving by digest: digest-addressed content is exactly what the client asked for).
 */
export function negotiate(stored: string, byTag: boolean, accept: AcceptSet): Negotiation {
  if (!byTag) return SERVE;
  const type = baseMediaType(stored);
  if (isSchema1MediaType(type)) return SERVE;
  const accepted = accept.types.has(type);
  // Old Docker clients never list the schema2 types; they get what they understand instead.
  if (type === MT_DOCKER_MANIFEST) return accepted ? SERVE : { action: 'schema1' };
  if (type === MT_DOCKER_LIST) return accepted ? SERVE : { action: 'select-platform' };
  // Unlike Distribution (which 404s), no Accept or a wildcard keeps its HTTP meaning of "anything".
  if (accepted || accept.wildcard || accept.types.size === 0) return SERVE;
  // Anything that is not an index is an image manifest here: artifacts are stored as OCI manifests.
  return { action: 'not-found', message: type === MT_OCI_INDEX ? INDEX_NOT_ACCEPTED : MANIFEST_NOT_ACCEPTED };
}

const DEFAULT_PLATFORM: Pick<Platform, 'os' | 'architecture'> = { os: 'linux', architecture: 'amd64' };

/** The first child for the platform, exact os and architecture; the variant is ignored, as in Distribution. */
export function selectPlatform(
  manifests: readonly Descriptor[],
  platform: Pick<Platform, 'os' | 'architecture'> = DEFAULT_PLATFORM,
): Descriptor | undefined {
  return manifests.find(
    (m) => m.platform?.os === platform.os && m.platform?.architecture === platform.architecture,
  );
}
