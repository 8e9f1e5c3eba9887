import type { ManifestPutRequest, ManifestResult, MetadataApi } from '@wharf/contracts';
import { RegistryError, type ParsedManifest, type Platform } from '@wharf/oci';

/** A manifest as stored: `body` absent when it was read without it (a HEAD). */
export interface StoredManifest {
  digest: string;
  mediaType: string;
  size: number;
  body?: Buffer;
}

/** A stored manifest to serve: as read, and with its body (loaded only if the read had none). */
export interface ServedManifest {
  read: StoredManifest;
  withBody(): Promise<StoredManifest>;
}

/** A verified schema1 push: the payload to store (its digest is the manifest digest) and its blobs. */
export interface Schema1Push {
  payload: Buffer;
  manifest: ParsedManifest;
}

// Distribution 2.8 answers a 500 here (distribution#2925); a client deserves to know why.
export const SCHEMA1_PUSH_DISABLED = 'schema1 manifest push is disabled (WHARF_SCHEMA1_PUSH=true enables it)';

/** The seam for the schema2 → schema1 rewrite (PROTOCOL.md §3.3–3.4); see NO_SCHEMA1 for "off". */
export interface Schema1Rewriter {
  /** The Docker manifest-list entry served to clients that do not accept lists (linux/amd64 when undefined). */
  readonly defaultPlatform: Pick<Platform, 'os' | 'architecture'> | undefined;
  /** A tagged schema2 manifest, for a client that accepts only schema1. */
  rewrite(input: {
    repository: string;
    tag: string;
    manifest: ServedManifest;
    head: boolean;
  }): Promise<ManifestResult>;
  /** A stored schema1 payload, signed for one response (Distribution re-signs on every read). */
  serveStored(input: { manifest: ServedManifest; head: boolean }): Promise<ManifestResult>;
  /** Verifies a schema1 PUT; MANIFEST_INVALID (SCHEMA1_PUSH_DISABLED) when push is off. */
  verifyPush(req: ManifestPutRequest): Schema1Push;
}

/**
 * What the rewrite needs of the repository's blob links, for the empty layer: the metadata
 * service's own lookup (through its read cache) and its link (with its GC review and event).
 */
export type Schema1Links = Pick<MetadataApi, 'statBlob' | 'linkBlob'>;

/** Without the rewrite: schema2 is served as stored, as Distribution 3 does, and schema1 pushes are refused. */
export const NO_SCHEMA1: Schema1Rewriter = {
  defaultPlatform: undefined,
  rewrite: async ({ manifest }) => manifest.read,
  serveStored: async ({ manifest }) => manifest.read,
  verifyPush: () => {
    throw new RegistryError('MANIFEST_INVALID', SCHEMA1_PUSH_DISABLED);
  },
};
