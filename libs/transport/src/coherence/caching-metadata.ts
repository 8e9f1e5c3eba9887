import type {
  BlobLink,
  BlobLinkRequest,
  BlobMountRequest,
  BlobStatRequest,
  BlobUnlinkRequest,
  CacheChange,
  Descriptor,
  FillClaimRequest,
  FillClaimResult,
  FillReleaseRequest,
  ListReferrersRequest,
  ListRequest,
  ListResult,
  ListTagsRequest,
  ManifestDeleteRequest,
  ManifestGetRequest,
  ManifestPutRequest,
  ManifestPutResult,
  ManifestResult,
  MetadataApi,
  UploadAdmitRequest,
} from '@wharf/contracts';
import { isSchema1MediaType, parseReference } from '@wharf/oci';
import { GenerationCache, blobKey, invalidate, manifestKey, tagKey } from './generations';
import type { CacheLease } from './lease';
import type { PullForwarder } from './pull-forwarder';

export interface GatewayCacheOptions {
  maxEntries: number;
  /** Bound on the manifest bytes held. */
  maxBytes: number;
}

/** Per-entry bookkeeping counted on top of a manifest body. */
const ENTRY_OVERHEAD = 256;

type Cached = ManifestResult | BlobLink;

/**
 * MetadataApi with the reads every pull makes answered in process (ADR 24): manifests by tag (per
 * Accept, since negotiation decides what a tag serves) and by digest, and blob links. Entries count
 * only while the lease does; every change a writer makes reaches `apply` (and is acknowledged) before
 * the write answers, so a read that starts after a 201 or 202 never sees what it replaced. Absence
 * is never cached, so a push is visible at once. Pulls answered here are reported to the metadata
 * service in batches, as events.
 */
export class CachingMetadataApi implements MetadataApi {
  private readonly cache: GenerationCache<Cached>;

  constructor(
    private readonly inner: MetadataApi,
    private readonly lease: CacheLease,
    private readonly pulls: PullForwarder,
    opts: GatewayCacheOptions,
  ) {
    this.cache = new GenerationCache(opts.maxEntries, opts.maxBytes);
  }

  get size(): number {
    return this.cache.size;
  }

  /** What a writer changed: drops it before the acknowledgement goes back. */
  apply(changes: CacheChange[]): void {
    invalidate(this.cache, changes);
  }

  flush(): void {
    this.cache.flush();
  }

  async getManifest(req: ManifestGetRequest): Promise<ManifestResult> {
    const ref = parseReference(req.reference);
    if (!ref) return this.inner.getManifest(req);
    const genKey =
      ref.kind === 'tag' ? tagKey(req.repository, ref.tag) : manifestKey(req.repository, ref.digest);
    // A tag's answer depends on what the client accepts; a digest's never does.
    const key = ref.kind === 'tag' ? `${genKey}\0${req.accept.join('\n')}` : genKey;
    if (this.lease.usable()) {
      const hit = this.cache.get(req.repository, key, genKey) as ManifestResult | undefined;
      if (hit && (req.head || hit.body)) {
        if (req.event)
          this.pulls.manifest(req.repository, hit, ref.kind === 'tag' ? ref.tag : undefined, req.event);
        return req.head ? { digest: hit.digest, mediaType: hit.mediaType, size: hit.size } : hit;
      }
    }
    const ticket = this.cache.ticket(req.repository, genKey);
    const result = await this.inner.getManifest(req);
    // A schema1 manifest is signed afresh for every response: nothing to keep.
    if (!isSchema1MediaType(result.mediaType) && this.lease.usable()) {
      this.cache.set(key, ticket, result, (result.body?.length ?? 0) + ENTRY_OVERHEAD);
    }
    return result;
  }

  async statBlob(req: BlobStatRequest): Promise<BlobLink | null> {
    // A HEAD protects the blob from the collector before it answers (ADR 12): always the service's.
    if (req.head) return this.inner.statBlob(req);
    const key = blobKey(req.repository, req.digest);
    if (this.lease.usable()) {
      const hit = this.cache.get(req.repository, key) as BlobLink | undefined;
      if (hit) {
        if (req.event) this.pulls.blob(req.repository, hit, req.event);
        return hit;
      }
    }
    const ticket = this.cache.ticket(req.repository, key);
    const link = await this.inner.statBlob(req);
    if (link && this.lease.usable()) this.cache.set(key, ticket, link, ENTRY_OVERHEAD);
    return link;
  }

  putManifest(req: ManifestPutRequest): Promise<ManifestPutResult> {
    return this.inner.putManifest(req);
  }

  deleteManifest(req: ManifestDeleteRequest): Promise<void> {
    return this.inner.deleteManifest(req);
  }

  listTags(req: ListTagsRequest): Promise<ListResult> {
    return this.inner.listTags(req);
  }

  listRepositories(req: ListRequest): Promise<ListResult> {
    return this.inner.listRepositories(req);
  }

  listReferrers(req: ListReferrersRequest): Promise<Descriptor[]> {
    return this.inner.listReferrers(req);
  }

  linkBlob(req: BlobLinkRequest): Promise<void> {
    return this.inner.linkBlob(req);
  }

  unlinkBlob(req: BlobUnlinkRequest): Promise<void> {
    return this.inner.unlinkBlob(req);
  }

  mountBlob(req: BlobMountRequest): Promise<BlobLink | null> {
    return this.inner.mountBlob(req);
  }

  // Usage changes with every push, anywhere: never answered from a cache.
  admitUpload(req: UploadAdmitRequest): Promise<void> {
    return this.inner.admitUpload(req);
  }

  // Leases are shared between gateways: never answered from a cache.
  claimFill(req: FillClaimRequest): Promise<FillClaimResult> {
    return this.inner.claimFill(req);
  }

  releaseFill(req: FillReleaseRequest): Promise<void> {
    return this.inner.releaseFill(req);
  }
}
