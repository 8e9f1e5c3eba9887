import { Inject, Injectable, Optional } from '@nestjs/common';
import { METADATA_API, type MetadataApi } from '@wharf/contracts';
import { RegistryError, looksLikeDigest, methodNotAllowed, parseReference } from '@wharf/oci';
import { PULL_THROUGH, asRegistryError, type PullThrough } from '@wharf/proxy';
import { readLimitedBody } from '../http/body';
import { etagMatches } from '../http/conditional';
import { eventContext } from '../http/event-context';
import type { Exchange } from '../http/exchange';

/** GET / HEAD / PUT / DELETE /v2/<name>/manifests/<reference> */
@Injectable()
export class ManifestsHandler {
  constructor(
    @Inject(METADATA_API) private readonly metadata: MetadataApi,
    @Optional() @Inject(PULL_THROUGH) private readonly proxy: PullThrough | null = null,
  ) {}

  async handle(x: Exchange, name: string, reference: string): Promise<void> {
    const ref = parseReference(reference);
    if (!ref) {
      // A malformed digest is the client's error; a name that cannot be a tag is simply not there.
      if (looksLikeDigest(reference))
        throw new RegistryError('DIGEST_INVALID', 'invalid digest', { reference });
      if (x.method === 'PUT') throw new RegistryError('TAG_INVALID', 'invalid tag', { reference });
      throw new RegistryError('MANIFEST_UNKNOWN', undefined, { reference });
    }
    switch (x.method) {
      case 'GET':
      case 'HEAD':
        return this.get(x, name, reference);
      case 'PUT':
        return this.put(x, name, reference);
      case 'DELETE':
        await this.metadata.deleteManifest({ repository: name, reference, event: eventContext(x) });
        return x.send(202);
      default:
        throw methodNotAllowed(x.method);
    }
  }

  private async get(x: Exchange, name: string, reference: string): Promise<void> {
    const head = x.method === 'HEAD';
    const req = {
      repository: name,
      reference,
      accept: x.headerValues('accept'),
      head,
      event: eventContext(x),
    };
    const m =
      x.proxy && this.proxy
        ? await this.proxy.manifests.get(x.proxy, req).catch((e: unknown) => {
            throw asRegistryError(e, 'manifest', { reference });
          })
        : await this.metadata.getManifest(req);
    const headers = {
      'Content-Type': m.mediaType,
      'Content-Length': m.size,
      'Docker-Content-Digest': m.digest,
      ETag: `"${m.digest}"`,
      ...(x.proxy?.namespace ? { 'OCI-Namespace': x.proxy.namespace } : {}),
    };
    if (etagMatches(x.header('if-none-match'), m.digest)) {
      return x.send(304, { 'Docker-Content-Digest': m.digest, ETag: headers.ETag });
    }
    x.send(200, headers, head ? undefined : m.body);
  }

  private async put(x: Exchange, name: string, reference: string): Promise<void> {
    const body = await readLimitedBody(x.req);
    const result = await this.metadata.putManifest({
      repository: name,
      reference,
      contentType: x.header('content-type') ?? '',
      body,
      event: eventContext(x),
    });
    x.send(201, {
      Location: `${x.baseUrl()}/v2/${name}/manifests/${result.digest}`,
      'Docker-Content-Digest': result.digest,
      ...(result.subject ? { 'OCI-Subject': result.subject } : {}),
    });
  }
}
