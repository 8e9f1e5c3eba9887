import { Inject, Injectable } from '@nestjs/common';
import { UNRESTRICTED, type RequestAccess } from '@wharf/auth';
import {
  BLOB_API,
  METADATA_API,
  type BlobApi,
  type ChunkRequest,
  type MetadataApi,
  type UploadStatus,
} from '@wharf/contracts';
import {
  RegistryError,
  isValidRepositoryName,
  methodNotAllowed,
  parseContentRange,
  parseDigest,
  requireUploadId,
} from '@wharf/oci';
import { eventContext } from '../http/event-context';
import type { Exchange } from '../http/exchange';
import { requireDigest } from './names';

/** POST /v2/<name>/blobs/uploads/ and GET / HEAD / PATCH / PUT / DELETE on an upload session. */
@Injectable()
export class UploadsHandler {
  constructor(
    @Inject(METADATA_API) private readonly metadata: MetadataApi,
    @Inject(BLOB_API) private readonly blobs: BlobApi,
  ) {}

  async start(x: Exchange, name: string, access: RequestAccess = UNRESTRICTED): Promise<void> {
    if (x.method !== 'POST') throw methodNotAllowed(x.method);
    const mount = x.query.get('mount');
    if (mount !== null && parseDigest(mount)) {
      const from = x.query.get('from');
      // An unusable `from` is ignored, as in Distribution: the client just gets an upload session.
      // A mount reads `from`: without pull there (or, for an automatic mount without `from`, with
      // access control on at all) it quietly becomes an ordinary upload, so a 201 cannot reveal
      // that a repository the caller cannot read holds the blob.
      const mayRead = from === null ? access.unrestricted : access.canPull(from);
      if ((from === null || isValidRepositoryName(from)) && mayRead) {
        const linked = await this.metadata.mountBlob({
          repository: name,
          digest: mount,
          from: from ?? undefined,
          event: eventContext(x),
        });
        if (linked) return this.created(x, name, linked.digest);
      }
    }
    // A namespace at its quota could not link what would be uploaded: refused before any byte is sent.
    await this.metadata.admitUpload({ repository: name });
    const digest = x.query.get('digest');
    if (digest !== null && mount === null) {
      requireDigest(digest);
      // Single-request monolithic upload: the body is the whole blob.
      const session = await this.blobs.startUpload({ repository: name });
      let blob;
      try {
        blob = await this.blobs.completeUpload({
          repository: name,
          id: session.id,
          digest,
          chunk: this.chunk(x, false),
        });
      } catch (e) {
        // The client never learnt this session's id, so nobody could resume or cancel it: without
        // this, a failed single POST (unsupported algorithm, short body) leaves bytes behind until
        // the TTL purge. A digest mismatch has already discarded it, hence the ignored failure.
        await this.blobs.cancelUpload({ repository: name, id: session.id }).catch(() => undefined);
        throw e;
      }
      await this.metadata.linkBlob({
        repository: name,
        digest: blob.digest,
        size: blob.size,
        event: eventContext(x),
      });
      return this.created(x, name, blob.digest);
    }
    const session = await this.blobs.startUpload({ repository: name });
    return this.session(x, 202, session);
  }

  async handle(x: Exchange, name: string, id: string): Promise<void> {
    // The id is checked just before the call that would carry it, after the gateway's own checks,
    // so those answer as before; an id that cannot name a session never leaves the gateway.
    switch (x.method) {
      case 'GET':
      case 'HEAD':
        return this.session(
          x,
          204,
          await this.blobs.getUpload({ repository: name, id: requireUploadId(id) }),
        );
      case 'PATCH': {
        const chunk = this.chunk(x, true);
        const status = await this.blobs.appendUpload({ repository: name, id: requireUploadId(id), chunk });
        return this.session(x, 202, status);
      }
      case 'PUT': {
        const digest = x.query.get('digest');
        if (digest === null) throw new RegistryError('DIGEST_INVALID', 'digest missing', { id });
        requireDigest(digest);
        const chunk = x.hasBody() ? this.chunk(x, true) : undefined;
        const blob = await this.blobs.completeUpload({
          repository: name,
          id: requireUploadId(id),
          digest,
          chunk,
        });
        await this.metadata.linkBlob({
          repository: name,
          digest: blob.digest,
          size: blob.size,
          event: eventContext(x),
        });
        return this.created(x, name, blob.digest);
      }
      case 'DELETE':
        await this.blobs.cancelUpload({ repository: name, id: requireUploadId(id) });
        return x.send(204, { 'Docker-Upload-UUID': id });
      default:
        throw methodNotAllowed(x.method);
    }
  }

  private chunk(x: Exchange, withRange: boolean): ChunkRequest {
    const header = x.header('content-range');
    let range;
    if (withRange && header !== undefined) {
      range = parseContentRange(header);
      if (!range)
        throw new RegistryError('RANGE_INVALID', 'malformed Content-Range', { 'Content-Range': header });
    }
    return { body: x.req, range: range ?? undefined, length: x.contentLength() };
  }

  private created(x: Exchange, name: string, digest: string): void {
    x.send(201, { Location: `${x.baseUrl()}/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
  }

  private session(x: Exchange, status: number, s: UploadStatus): void {
    x.send(status, {
      Location: `${x.baseUrl()}/v2/${s.repository}/blobs/uploads/${s.id}`,
      // Inclusive end of the bytes received; Distribution answers "0-0" for an empty upload too.
      Range: `0-${Math.max(0, s.size - 1)}`,
      'Docker-Upload-UUID': s.id,
      ...(s.minChunkLength ? { 'OCI-Chunk-Min-Length': s.minChunkLength } : {}),
    });
  }
}
