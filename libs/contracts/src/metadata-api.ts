/**
 * What the gateway (and anyone else) may ask of the metadata service. In the all-in-one shape this
 * is bound to the in-process MetadataService; in the distributed shape to a NATS client. Both
 * adapters must honour the same semantics, including raising RegistryError with the spec's codes.
 */
import type { EventContext } from './events';

export const METADATA_API = Symbol('METADATA_API');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ManifestGetRequest {
  repository: string;
  /** A tag or a digest, already validated by the gateway. */
  reference: string;
  /** The request's Accept header values (each may itself be a comma-separated list). */
  accept: string[];
  /** HEAD needs no body; the service may skip loading it. */
  head: boolean;
  /** Set by the gateway: the read is reported as a pull event. */
  event?: EventContext;
}

export interface ManifestResult {
  digest: string;
  mediaType: string;
  size: number;
  /** Absent for HEAD. */
  body?: Buffer;
}

export interface ManifestPutRequest {
  repository: string;
  /** A tag or a digest, already validated by the gateway. */
  reference: string;
  contentType: string;
  body: Buffer;
  event?: EventContext;
}

export interface ManifestPutResult {
  digest: string;
  /** The `subject` digest when the manifest has one (answered as `OCI-Subject`). */
  subject?: string;
}

export interface ListRequest {
  /** Page size; undefined means "all" for tags (capped by the service). */
  n?: number;
  /** Exclusive lower bound, in byte order. */
  last?: string;
}

export interface ListResult {
  items: string[];
  /** True when more entries follow the last item returned. */
  more: boolean;
}

export interface BlobLink {
  digest: string;
  size: number;
}

export interface MetadataApi {
  getManifest(req: ManifestGetRequest): Promise<ManifestResult>;
  putManifest(req: ManifestPutRequest): Promise<ManifestPutResult>;
  /** By digest: removes the manifest and every tag on it. By tag: removes only the tag. */
  deleteManifest(repository: string, reference: string, event?: EventContext): Promise<void>;
  /** Raises NAME_UNKNOWN when the repository does not exist. */
  listTags(repository: string, page: ListRequest): Promise<ListResult>;
  listRepositories(page: ListRequest): Promise<ListResult>;
  listReferrers(repository: string, digest: string, artifactType?: string): Promise<Descriptor[]>;
  /**
   * The blob as linked in this repository, or null. With `event`, a found blob is reported as a pull.
   * `head`: the client asked with HEAD, which is how a pusher learns it may skip the upload and
   * reference the blob; the blob is then protected from the collector before the answer (ADR 12).
   */
  statBlob(
    repository: string,
    digest: string,
    event?: EventContext,
    options?: { head?: boolean },
  ): Promise<BlobLink | null>;
  /** A blob push: reported as a push event (with the request's context when given). */
  linkBlob(repository: string, digest: string, size: number, event?: EventContext): Promise<void>;
  /** Raises BLOB_UNKNOWN when the blob is not linked here. */
  unlinkBlob(repository: string, digest: string, event?: EventContext): Promise<void>;
  /**
   * Links a blob that another repository already links. With `from`, only that repository counts;
   * without it, any repository does (automatic mount). Null when there is nothing to mount.
   */
  mountBlob(
    repository: string,
    digest: string,
    from?: string,
    event?: EventContext,
  ): Promise<BlobLink | null>;
}
