import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import {
  BLOB_OPS,
  CHUNK_LENGTH_HEADER,
  CHUNK_RANGE_HEADER,
  blobPath,
  fromWireError,
  uploadPath,
  type BlobApi,
  type BlobDeletion,
  type CommittedPage,
  type BlobOps,
  type BlobStat,
  type ByteRange,
  type ChunkRequest,
  type UploadStatus,
} from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';
import { readReply } from './http-reply';
import type { RpcClient } from './rpc-client';
import { unavailable, type Upstreams } from './upstreams';

/**
 * BlobApi for the gateway and the metadata service: control over NATS, bytes over the blob
 * service's data port. Chunks are piped from the client's request with backpressure (the upstream
 * reads only as fast as storage takes them), and reads come back as the upstream's stream.
 */
export class RemoteBlobApi implements BlobApi {
  constructor(
    private readonly rpc: RpcClient<BlobOps>,
    private readonly http: Upstreams,
  ) {}

  ping(): Promise<{ service: string }> {
    return this.rpc.call('ping', {});
  }

  startUpload(repository: string): Promise<UploadStatus> {
    return this.rpc.call('startUpload', { repository });
  }

  getUpload(repository: string, id: string): Promise<UploadStatus> {
    return this.rpc.call('getUpload', { repository, id });
  }

  async appendUpload(repository: string, id: string, chunk: ChunkRequest): Promise<UploadStatus> {
    const res = await this.send('PATCH', uploadPath(id, { repository }), chunk);
    return this.reply(res, BLOB_OPS.startUpload.response, 'appendUpload');
  }

  async completeUpload(
    repository: string,
    id: string,
    digest: string,
    chunk?: ChunkRequest,
  ): Promise<BlobStat> {
    if (!chunk) return this.rpc.call('completeUpload', { repository, id, digest });
    const res = await this.send('PUT', uploadPath(id, { repository, digest }), chunk);
    return this.reply(res, BLOB_OPS.completeUpload.response, 'completeUpload');
  }

  async cancelUpload(repository: string, id: string): Promise<void> {
    await this.rpc.call('cancelUpload', { repository, id });
  }

  async statBlob(digest: string): Promise<BlobStat | null> {
    return (await this.rpc.call('statBlob', { digest })).stat;
  }

  async openBlob(digest: string, range?: ByteRange): Promise<Readable> {
    const res = await this.http.request({
      method: 'GET',
      path: blobPath(digest),
      headers: range ? { range: `bytes=${range.start}-${range.end}` } : {},
      // The client sets the pace; a slow reader is not a dead upstream.
      bodyTimeout: 0,
    });
    if (res.statusCode === 200 || res.statusCode === 206) return res.body;
    throw await this.failure(res);
  }

  async blobUrl(digest: string): Promise<string | null> {
    return (await this.rpc.call('blobUrl', { digest })).url;
  }

  putBlob(digest: string, content: Buffer): Promise<BlobStat> {
    return this.rpc.call('putBlob', { digest, content });
  }

  deleteBlob(digest: string, notCommittedAfter: Date): Promise<BlobDeletion> {
    return this.rpc.call('deleteBlob', { digest, notCommittedAfter: notCommittedAfter.toISOString() });
  }

  listCommitted(before: Date, after: string | null, limit: number): Promise<CommittedPage> {
    return this.rpc.call('listCommitted', { before: before.toISOString(), after, limit });
  }

  private async send(
    method: 'PATCH' | 'PUT',
    path: string,
    chunk: ChunkRequest,
  ): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (chunk.range) headers[CHUNK_RANGE_HEADER] = `${chunk.range.start}-${chunk.range.end}`;
    if (chunk.length !== undefined) headers[CHUNK_LENGTH_HEADER] = String(chunk.length);
    try {
      return await this.http.request({
        method,
        path,
        headers,
        stream: chunk.body,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } catch (e) {
      throw unavailable('blob', e);
    }
  }

  private async reply<R>(
    res: Dispatcher.ResponseData,
    check: (v: unknown, p?: string) => R,
    what: string,
  ): Promise<R> {
    const reply = await readReply(res, check, 'blob', what);
    if (reply.ok) return reply.value;
    if ('oversized' in reply) throw new RegistryError('UNKNOWN');
    throw fromWireError(reply.error);
  }

  /** The error a read that did not answer 200/206 carries. */
  private async failure(res: Dispatcher.ResponseData): Promise<Error> {
    try {
      const reply = await readReply(res, (v) => v, 'blob', 'openBlob');
      return !reply.ok && 'error' in reply ? fromWireError(reply.error) : new RegistryError('UNKNOWN');
    } catch (e) {
      return e as Error;
    }
  }
}
