import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import {
  BLOB_DATA_REPLIES,
  CHUNK_LENGTH_HEADER,
  CHUNK_RANGE_HEADER,
  blobPath,
  fromWireError,
  uploadPath,
  type AppendUploadRequest,
  type BlobApi,
  type BlobOps,
  type BlobStat,
  type ChunkRequest,
  type CompleteUploadRequest,
  type OpHandlers,
  type OpenBlobRequest,
  type UploadStatus,
  type WireReply,
} from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';
import { readReply } from './http-reply';
import type { RpcClient } from './rpc-client';
import { unavailable, type Upstreams } from './upstreams';

/** BlobApi over the wire, the readiness ping of the blob service, and its direct-read grants. */
export type RemoteBlobApi = BlobApi & Pick<OpHandlers<BlobOps>, 'ping' | 'directReads' | 'readUrl'>;

/**
 * BlobApi for the gateway and the metadata service: the control operations are BLOB_OPS over NATS
 * (derived from the table), the bytes go over the blob service's data port. Chunks are piped from
 * the client's request with backpressure (the upstream reads only as fast as storage takes them),
 * and reads come back as the upstream's stream.
 */
export function remoteBlobApi(rpc: RpcClient<BlobOps>, http: Upstreams): RemoteBlobApi {
  const data = new BlobDataClient(http);
  const ops = rpc.methods();
  return {
    ...ops,
    appendUpload: (req) => data.append(req),
    completeUpload: (req) => (req.chunk ? data.complete(req, req.chunk) : ops.completeUpload(req)),
    openBlob: (req) => data.open(req),
  };
}

/** The blob service's data port, as the client side of its routes (internal-http.ts). */
class BlobDataClient {
  constructor(private readonly http: Upstreams) {}

  async append({ repository, id, chunk }: AppendUploadRequest): Promise<UploadStatus> {
    const res = await this.send('PATCH', uploadPath(id, { repository }), chunk);
    return this.reply(res, BLOB_DATA_REPLIES.appendUpload, 'appendUpload');
  }

  async complete({ repository, id, digest }: CompleteUploadRequest, chunk: ChunkRequest): Promise<BlobStat> {
    const res = await this.send('PUT', uploadPath(id, { repository, digest }), chunk);
    return this.reply(res, BLOB_DATA_REPLIES.completeUpload, 'completeUpload');
  }

  async open({ digest, range }: OpenBlobRequest): Promise<Readable> {
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

  private async reply<R>(res: Dispatcher.ResponseData, wire: WireReply<R>, what: string): Promise<R> {
    const reply = await readReply(res, wire.read, 'blob', what);
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
