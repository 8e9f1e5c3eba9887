import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Inject, Logger, Param, Patch, Put, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  BLOB_API,
  CHUNK_LENGTH_HEADER,
  CHUNK_RANGE_HEADER,
  INTERNAL_ERROR,
  blobStatToWire,
  copyBlob,
  uploadStatusToWire,
  type BlobApi,
  type ByteRange,
  type ChunkRequest,
  type Reply,
} from '@wharf/contracts';
import { RegistryError, parseContentRange, parseResolvedRange } from '@wharf/oci';
import { INTERNAL_SERVER, hasInternalToken, sendJson, type InternalServer } from '@wharf/transport';

const log = new Logger('blob-data');

/**
 * The blob service's data port: upload chunks in, blob bytes out, streamed with backpressure
 * between the gateway's connection and storage. Only callers holding WHARF_INTERNAL_TOKEN get in;
 * the gateway has already checked the client's access to the repository. The routes take their
 * parameters from Fastify; the request and response stay Node's, so bytes never pass through it.
 */
@Controller('internal/blob')
export class BlobDataController {
  constructor(
    @Inject(BLOB_API) private readonly blobs: BlobApi,
    @Inject(INTERNAL_SERVER) private readonly server: InternalServer,
  ) {}

  @Patch('uploads/:id')
  append(
    @Param('id') id: string,
    @Query('repository') repository: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    return this.serve(req, reply, async (raw) => {
      const status = await this.blobs.appendUpload({
        repository: required('repository', repository),
        id,
        chunk: chunkOf(raw),
      });
      return uploadStatusToWire(status);
    });
  }

  @Put('uploads/:id')
  complete(
    @Param('id') id: string,
    @Query('repository') repository: unknown,
    @Query('digest') digest: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    return this.serve(req, reply, async (raw) => {
      const stat = await this.blobs.completeUpload({
        repository: required('repository', repository),
        id,
        digest: required('digest', digest),
        chunk: chunkOf(raw),
      });
      return blobStatToWire(stat);
    });
  }

  @Get('blobs/:digest')
  read(
    @Param('digest') digest: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    reply.hijack();
    const raw = req.raw;
    const res = reply.raw;
    return this.server.inflight.track(async () => {
      if (!hasInternalToken(raw, this.server.token)) return sendJson(res, 401, unauthorized());
      let stream;
      let range: ByteRange | undefined;
      try {
        range = rangeOf(raw.headers.range);
        stream = await this.blobs.openBlob({ digest, range });
      } catch (e) {
        return sendError(res, e);
      }
      res.writeHead(range ? 206 : 200, { 'content-type': 'application/octet-stream' });
      try {
        // As the gateway does for the all-in-one: a filesystem blob copies itself through reused
        // buffers, where a pipe would allocate (and collect) a fresh MiB per chunk.
        await copyBlob(stream, res);
      } catch {
        // A reader that went away, or storage that failed mid-stream: cutting the response is how
        // the gateway (and so its client) learns the bytes are incomplete.
        res.destroy();
      }
    });
  }

  private serve(
    req: FastifyRequest,
    reply: FastifyReply,
    work: (raw: IncomingMessage) => Promise<unknown>,
  ): Promise<void> {
    reply.hijack();
    const raw = req.raw;
    const res = reply.raw;
    return this.server.inflight.track(async () => {
      if (!hasInternalToken(raw, this.server.token)) {
        raw.resume();
        return sendJson(res, 401, unauthorized());
      }
      try {
        const value = await work(raw);
        sendJson(res, 200, { ok: true, value } satisfies Reply<unknown>);
      } catch (e) {
        // The gateway hung up (its client did, or it died): nobody is left to answer.
        if (raw.destroyed && !raw.complete) {
          res.destroy();
          return;
        }
        // Whatever of the body was not read is discarded, so the connection stays usable.
        if (!raw.complete) raw.resume();
        sendError(res, e);
      }
    });
  }
}

function required(key: string, value: unknown): string {
  if (typeof value !== 'string') throw new RegistryError('UNKNOWN', `internal request without ${key}`);
  return value;
}

/** The client's Content-Range and Content-Length as the gateway passed them on. */
function chunkOf(req: IncomingMessage): ChunkRequest {
  const range = req.headers[CHUNK_RANGE_HEADER];
  const length = req.headers[CHUNK_LENGTH_HEADER];
  let parsed: ByteRange | undefined;
  if (range !== undefined) {
    parsed = typeof range === 'string' ? (parseContentRange(range) ?? undefined) : undefined;
    if (!parsed) throw new RegistryError('UNKNOWN', `malformed ${CHUNK_RANGE_HEADER}`);
  }
  if (length !== undefined && (typeof length !== 'string' || !/^\d{1,15}$/.test(length)))
    throw new RegistryError('UNKNOWN', `malformed ${CHUNK_LENGTH_HEADER}`);
  return { body: req, range: parsed, length: length === undefined ? undefined : Number(length) };
}

function rangeOf(header: string | undefined): ByteRange | undefined {
  if (header === undefined) return undefined;
  const range = parseResolvedRange(header);
  if (!range) throw new RegistryError('UNKNOWN', 'malformed internal Range');
  return range;
}

function unauthorized(): Reply<never> {
  return { ok: false, error: new RegistryError('UNAUTHORIZED').toJSON() };
}

function sendError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e instanceof RegistryError) {
    sendJson(res, e.status, { ok: false, error: e.toJSON() } satisfies Reply<never>);
    return;
  }
  log.error(`internal request failed: ${(e as Error)?.stack ?? String(e)}`);
  sendJson(res, 500, { ok: false, error: INTERNAL_ERROR } satisfies Reply<never>);
}
