import { Injectable } from '@nestjs/common';
import type {
  BlobLink,
  Descriptor,
  EventContext,
  ListRequest,
  ListResult,
  ManifestGetRequest,
  ManifestPutRequest,
  ManifestPutResult,
  ManifestResult,
  MetadataApi,
} from '@wharf/contracts';
import { BlobLinks } from './blob-links.service';
import { ManifestReads } from './manifest-reads';
import { ManifestWrites } from './manifest-writes';

/** MetadataApi, as bound in-process and answered on the wire: reads, writes and blob links. */
@Injectable()
export class MetadataService implements MetadataApi {
  constructor(
    private readonly reads: ManifestReads,
    private readonly writes: ManifestWrites,
    private readonly links: BlobLinks,
  ) {}

  getManifest(req: ManifestGetRequest): Promise<ManifestResult> {
    return this.reads.getManifest(req);
  }

  putManifest(req: ManifestPutRequest): Promise<ManifestPutResult> {
    return this.writes.putManifest(req);
  }

  deleteManifest(repository: string, reference: string, event?: EventContext): Promise<void> {
    return this.writes.deleteManifest(repository, reference, event);
  }

  listTags(repository: string, page: ListRequest): Promise<ListResult> {
    return this.reads.listTags(repository, page);
  }

  listRepositories(page: ListRequest): Promise<ListResult> {
    return this.reads.listRepositories(page);
  }

  listReferrers(repository: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    return this.reads.listReferrers(repository, digest, artifactType);
  }

  statBlob(
    repository: string,
    digest: string,
    event?: EventContext,
    options?: { head?: boolean },
  ): Promise<BlobLink | null> {
    return this.links.statBlob(repository, digest, event, options);
  }

  linkBlob(repository: string, digest: string, size: number, event?: EventContext): Promise<void> {
    return this.links.linkBlob(repository, digest, size, event);
  }

  unlinkBlob(repository: string, digest: string, event?: EventContext): Promise<void> {
    return this.links.unlinkBlob(repository, digest, event);
  }

  mountBlob(
    repository: string,
    digest: string,
    from?: string,
    event?: EventContext,
  ): Promise<BlobLink | null> {
    return this.links.mountBlob(repository, digest, from, event);
  }
}
