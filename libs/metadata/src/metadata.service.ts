import { Injectable, Optional } from '@nestjs/common';
import type {
  BlobLink,
  BlobLinkRequest,
  BlobMountRequest,
  BlobStatRequest,
  BlobUnlinkRequest,
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
import { BlobLinks } from './blob-links.service';
import { ManifestReads } from './manifest-reads';
import { ManifestWrites } from './manifest-writes';
import { ProxyFills } from './proxy-fills';
import { NamespaceQuotas } from './rules/quotas';

/**
 * MetadataApi, as bound in-process and answered on the wire: reads, writes, blob links and the
 * pull-through cache's fill leases.
 */
@Injectable()
export class MetadataService implements MetadataApi {
  constructor(
    private readonly reads: ManifestReads,
    private readonly writes: ManifestWrites,
    private readonly links: BlobLinks,
    private readonly fills: ProxyFills,
    @Optional() private readonly quotas?: NamespaceQuotas,
  ) {}

  getManifest(req: ManifestGetRequest): Promise<ManifestResult> {
    return this.reads.getManifest(req);
  }

  putManifest(req: ManifestPutRequest): Promise<ManifestPutResult> {
    return this.writes.putManifest(req);
  }

  deleteManifest(req: ManifestDeleteRequest): Promise<void> {
    return this.writes.deleteManifest(req);
  }

  listTags(req: ListTagsRequest): Promise<ListResult> {
    return this.reads.listTags(req);
  }

  listRepositories(req: ListRequest): Promise<ListResult> {
    return this.reads.listRepositories(req);
  }

  listReferrers(req: ListReferrersRequest): Promise<Descriptor[]> {
    return this.reads.listReferrers(req);
  }

  statBlob(req: BlobStatRequest): Promise<BlobLink | null> {
    return this.links.statBlob(req);
  }

  linkBlob(req: BlobLinkRequest): Promise<void> {
    return this.links.linkBlob(req);
  }

  unlinkBlob(req: BlobUnlinkRequest): Promise<void> {
    return this.links.unlinkBlob(req);
  }

  mountBlob(req: BlobMountRequest): Promise<BlobLink | null> {
    return this.links.mountBlob(req);
  }

  async admitUpload({ repository }: UploadAdmitRequest): Promise<void> {
    await this.quotas?.admitUpload(repository);
  }

  claimFill(req: FillClaimRequest): Promise<FillClaimResult> {
    return this.fills.claimFill(req);
  }

  releaseFill(req: FillReleaseRequest): Promise<void> {
    return this.fills.releaseFill(req);
  }
}
