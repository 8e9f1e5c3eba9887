/**
 * What the gateway (and anyone else) may ask of the metadata service. In the all-in-one shape this
 * is bound to the in-process MetadataService; in the distributed shape to a NATS client. Both
 * adapters must honour the same semantics, including raising RegistryError with the spec's codes.
 */
import type { OpRequest, OpResponse } from './wire/ops';
import type {
  BlobLink,
  Descriptor,
  ListRequest,
  ListResult,
  ManifestPutResult,
  ManifestResult,
  MetadataOps,
} from './wire/metadata-wire';

export const METADATA_API = Symbol('METADATA_API');

export type ManifestGetRequest = OpRequest<MetadataOps['getManifest']>;
export type ManifestPutRequest = OpRequest<MetadataOps['putManifest']>;
export type ManifestDeleteRequest = OpRequest<MetadataOps['deleteManifest']>;
export type ListTagsRequest = OpRequest<MetadataOps['listTags']>;
export type ListReferrersRequest = OpRequest<MetadataOps['listReferrers']>;
export type BlobStatRequest = OpRequest<MetadataOps['statBlob']>;
export type BlobLinkRequest = OpRequest<MetadataOps['linkBlob']>;
export type BlobUnlinkRequest = OpRequest<MetadataOps['unlinkBlob']>;
export type BlobMountRequest = OpRequest<MetadataOps['mountBlob']>;
export type UploadAdmitRequest = OpRequest<MetadataOps['admitUpload']>;
export type FillClaimRequest = OpRequest<MetadataOps['claimFill']>;
export type FillClaimResult = OpResponse<MetadataOps['claimFill']>;
export type FillReleaseRequest = OpRequest<MetadataOps['releaseFill']>;

/**
 * One method per operation, each taking its request as one object: the request of its operation
 * in METADATA_OPS (metadata-wire.ts).
 */
export interface MetadataApi {
  getManifest(req: ManifestGetRequest): Promise<ManifestResult>;
  putManifest(req: ManifestPutRequest): Promise<ManifestPutResult>;
  /** By digest: removes the manifest and every tag on it. By tag: removes only the tag. */
  deleteManifest(req: ManifestDeleteRequest): Promise<void>;
  /** Raises NAME_UNKNOWN when the repository does not exist. */
  listTags(req: ListTagsRequest): Promise<ListResult>;
  listRepositories(req: ListRequest): Promise<ListResult>;
  listReferrers(req: ListReferrersRequest): Promise<Descriptor[]>;
  /**
   * The blob as linked in this repository, or null. With `event`, a found blob is reported as a pull.
   * `head`: the client asked with HEAD, which is how a pusher learns it may skip the upload and
   * reference the blob; the blob is then protected from the collector before the answer (ADR 12).
   */
  statBlob(req: BlobStatRequest): Promise<BlobLink | null>;
  /** A blob push: reported as a push event (with the request's context when given). */
  linkBlob(req: BlobLinkRequest): Promise<void>;
  /** Raises BLOB_UNKNOWN when the blob is not linked here. */
  unlinkBlob(req: BlobUnlinkRequest): Promise<void>;
  /**
   * Links a blob that another repository already links. With `from`, only that repository counts;
   * without it, any repository does (automatic mount). Null when there is nothing to mount.
   */
  mountBlob(req: BlobMountRequest): Promise<BlobLink | null>;
  /** Before an upload starts: raises DENIED when the namespace is already at or over its quota. */
  admitUpload(req: UploadAdmitRequest): Promise<void>;
  /**
   * A pull-through cache's lease on one fill, shared by every gateway: claimed (true) when nobody
   * holds `key`, its lease ran out, or `holder` holds it already (renewed to `ttlMs` from now);
   * false while another holder's lease runs. Times are the database's, one clock for all.
   */
  claimFill(req: FillClaimRequest): Promise<FillClaimResult>;
  /** Ends the lease on `key` if `holder` holds it; a lease another holder took over stays. */
  releaseFill(req: FillReleaseRequest): Promise<void>;
}
