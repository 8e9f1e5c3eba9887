import { Inject, Injectable, Optional } from '@nestjs/common';
import { BLOB_API, METADATA_API, type BlobApi, type BlobLink, type MetadataApi } from '@wharf/contracts';
import { RegistryError, methodNotAllowed, parseRange } from '@wharf/oci';
import { PULL_THROUGH, asRegistryError, type PullThrough } from '@wharf/proxy';
import { etagMatches } from '../http/conditional';
import { eventContext } from '../http/event-context';
import { API_VERSION, type Exchange } from '../http/exchange';
import { requireDigest } from './names';
import { SmallBlobCache } from './small-blobs';

/** True when a blob GET may answer 307 to a URL of the store (WHARF_S3_REDIRECT). */
export const REDIRECT_BLOBS = Symbol('REDIRECT_BLOBS');

/** GET / HEAD / DELETE /v2/<name>/blobs/<digest> */
@Injectable()
export class BlobsHandler {
  constructor(
    @Inject(METADATA_API) private readonly metadata: MetadataApi,
    @Inject(BLOB_API) private readonly blobs: BlobApi,
    private readonly small: SmallBlobCache,
    @Optional() @Inject(REDIRECT_BLOBS) private readonly redirect: boolean = false,
    @Optional() @Inject(PULL_THROUGH) private readonly proxy: PullThrough | null = null,
  ) {}

  async handle(x: Exchange, name: string, digest: string): Promise<void> {
    switch (x.method) {
      case 'GET':
      case 'HEAD':
        return this.get(x, name, requireDigest(digest));
      case 'DELETE':
        await this.metadata.unlinkBlob({
          repository: name,
          digest: requireDigest(digest),
          event: eventContext(x),
        });
        return x.send(202);
      default:
        throw methodNotAllowed(x.method);
    }
  }

  private async get(x: Exchange, name: string, digest: string): Promise<void> {
    // The repository link is the access boundary: a blob stored for another repository is unknown here.
    const stat = await this.metadata.statBlob({
      repository: name,
      digest,
      event: eventContext(x),
      // Only when true: a GET's request stays as earlier releases wrote it.
      ...(x.method === 'HEAD' ? { head: true } : {}),
    });
    const etag = `"${digest}"`;
    const common = {
      'Docker-Content-Digest': digest,
      ETag: etag,
      'Cache-Control': 'max-age=31536000',
      'Accept-Ranges': 'bytes',
      ...(x.proxy?.namespace ? { 'OCI-Namespace': x.proxy.namespace } : {}),
    };
    if (stat && x.proxy) this.proxy?.metrics.hit(x.proxy.upstream.name);
    const link = stat ?? (await this.fill(x, digest, common));
    if (link === 'streamed') return;
    if (!link) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
    if (etagMatches(x.header('if-none-match'), digest)) return x.send(304, common);
    const ifRange = x.header('if-range');
    const range =
      ifRange && !etagMatches(ifRange, digest) ? undefined : parseRange(x.header('range'), link.size);
    if (range === 'unsatisfiable') {
      // RFC 9110 §14.4: a 416 to a byte-range request names the current length, `bytes */<size>`,
      // as Distribution's ServeContent does; a thrown error could not carry that header.
      const err = new RegistryError('RANGE_INVALID', 'requested range not satisfiable', { size: link.size });
      return x.json(err.status, { errors: err.errors }, { 'Content-Range': `bytes */${link.size}` });
    }
    const headers = { ...common, 'Content-Type': 'application/octet-stream' };
    if (x.method === 'HEAD' && !range) return x.send(200, { ...headers, 'Content-Length': link.size });
    const length = range ? range.end - range.start + 1 : link.size;
    const rangeHeaders = range ? { 'Content-Range': `bytes ${range.start}-${range.end}/${link.size}` } : {};
    if (x.method === 'HEAD') return x.send(206, { ...headers, ...rangeHeaders, 'Content-Length': length });
    // An empty blob needs no storage round trip.
    if (length === 0) return x.send(200, { ...headers, 'Content-Length': 0 });
    // Only now, with access and the repository link checked: the URL hands the bytes to anyone.
    // HEAD stays here (above), where it has the digest header and costs no hop. The client sends
    // its Range again to the store, which answers it; a 416 was already decided above.
    if (!this.redirect && this.small.holds(link.size)) {
      const bytes = await this.small.get(digest, link.size, () => this.blobs.openBlob({ digest }));
      const body = range ? bytes.subarray(range.start, range.end + 1) : bytes;
      return x.send(range ? 206 : 200, { ...headers, ...rangeHeaders, 'Content-Length': length }, body);
    }
    const location = this.redirect ? await this.blobs.blobUrl({ digest }) : null;
    if (location) {
      return x.send(307, { Location: location, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
    }
    const stream = await this.blobs.openBlob({ digest, range: range ?? undefined });
    await x.stream(range ? 206 : 200, { ...headers, ...rangeHeaders, 'Content-Length': length }, stream);
  }

  /**
   * A mirrored repository's blob not stored yet: a HEAD asks the upstream for the size only; a GET
   * of the whole blob is answered while the bytes are stored, other GETs once they are.
   */
  private async fill(
    x: Exchange,
    digest: string,
    common: Record<string, string>,
  ): Promise<BlobLink | 'streamed' | null> {
    if (!x.proxy || !this.proxy) return null;
    const target = x.proxy;
    try {
      if (x.method === 'HEAD') return await this.proxy.headBlob(target, digest);
      const whole = !x.header('range') && !x.header('if-none-match');
      const sink = whole
        ? { res: x.res, headers: { ...API_VERSION, ...common, 'Content-Type': 'application/octet-stream' } }
        : undefined;
      return await this.proxy.blobs.ensure(target, digest, sink);
    } catch (e) {
      throw asRegistryError(e, 'blob', { digest });
    }
  }
}
