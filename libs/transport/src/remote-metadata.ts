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
  MetadataOps,
} from '@wharf/contracts';
import type { RpcClient } from './rpc-client';

/** MetadataApi over NATS (and the metadata data port for what does not fit): the gateway's adapter. */
export class RemoteMetadataApi implements MetadataApi {
  constructor(private readonly rpc: RpcClient<MetadataOps>) {}

  ping(): Promise<{ service: string }> {
    return this.rpc.call('ping', {});
  }

  async getManifest(req: ManifestGetRequest): Promise<ManifestResult> {
    return this.rpc.call('getManifest', {
      repository: req.repository,
      reference: req.reference,
      accept: req.accept,
      head: req.head,
      ...withEvent(req.event),
    });
  }

  async putManifest(req: ManifestPutRequest): Promise<ManifestPutResult> {
    return this.rpc.call('putManifest', {
      repository: req.repository,
      reference: req.reference,
      contentType: req.contentType,
      body: req.body,
      ...withEvent(req.event),
    });
  }

  async deleteManifest(repository: string, reference: string, event?: EventContext): Promise<void> {
    await this.rpc.call('deleteManifest', { repository, reference, ...withEvent(event) });
  }

  listTags(repository: string, page: ListRequest): Promise<ListResult> {
    return this.rpc.call('listTags', { repository, ...pageOf(page) });
  }

  listRepositories(page: ListRequest): Promise<ListResult> {
    return this.rpc.call('listRepositories', pageOf(page));
  }

  async listReferrers(repository: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    const res = await this.rpc.call('listReferrers', {
      repository,
      digest,
      ...(artifactType !== undefined ? { artifactType } : {}),
    });
    return res.manifests;
  }

  async statBlob(
    repository: string,
    digest: string,
    event?: EventContext,
    options?: { head?: boolean },
  ): Promise<BlobLink | null> {
    const head = options?.head ? { head: true } : {};
    return (await this.rpc.call('statBlob', { repository, digest, ...withEvent(event), ...head })).link;
  }

  async linkBlob(repository: string, digest: string, size: number, event?: EventContext): Promise<void> {
    await this.rpc.call('linkBlob', { repository, digest, size, ...withEvent(event) });
  }

  async unlinkBlob(repository: string, digest: string, event?: EventContext): Promise<void> {
    await this.rpc.call('unlinkBlob', { repository, digest, ...withEvent(event) });
  }

  async mountBlob(
    repository: string,
    digest: string,
    from?: string,
    event?: EventContext,
  ): Promise<BlobLink | null> {
    const req = { repository, digest, ...(from !== undefined ? { from } : {}), ...withEvent(event) };
    return (await this.rpc.call('mountBlob', req)).link;
  }
}

function withEvent(event: EventContext | undefined): { event?: EventContext } {
  return event ? { event } : {};
}

function pageOf(page: ListRequest): { n?: number; last?: string } {
  return {
    ...(page.n !== undefined ? { n: page.n } : {}),
    ...(page.last !== undefined ? { last: page.last } : {}),
  };
}
