import { Inject, Injectable } from '@nestjs/common';
import { UNRESTRICTED, visiblePage, type RequestAccess } from '@wharf/auth';
import { METADATA_API, type MetadataApi } from '@wharf/contracts';
import { MT_OCI_INDEX, methodNotAllowed, parsePageSize } from '@wharf/oci';
import type { Exchange } from '../http/exchange';
import { requireDigest } from './names';

/** Largest page a client can ask for; bigger `n` is clamped and continued with a Link. */
export const MAX_PAGE = 10_000;
const CATALOG_DEFAULT_PAGE = 100;

/** Tags list, catalog and referrers: read-only listings with byte-order keyset pagination. */
@Injectable()
export class ListingsHandler {
  constructor(@Inject(METADATA_API) private readonly metadata: MetadataApi) {}

  async tags(x: Exchange, name: string): Promise<void> {
    this.readOnly(x);
    const n = parsePageSize(x.query.get('n') ?? undefined, { max: MAX_PAGE });
    const last = x.query.get('last') ?? undefined;
    const page = await this.metadata.listTags({ repository: name, n, last });
    const link = page.more && n !== undefined ? this.link(`/v2/${name}/tags/list`, page.items, n) : {};
    x.json(200, { name, tags: page.items }, link);
  }

  async catalog(x: Exchange, access: RequestAccess = UNRESTRICTED): Promise<void> {
    this.readOnly(x);
    const n = parsePageSize(x.query.get('n') ?? undefined, {
      max: MAX_PAGE,
      defaultSize: CATALOG_DEFAULT_PAGE,
    });
    const last = x.query.get('last') ?? undefined;
    if (!access.unrestricted && n !== undefined) {
      // Only repositories the caller may pull, paginated as if the others did not exist.
      const page = await visiblePage((p) => this.metadata.listRepositories(p), access.canList, n, last);
      const link = page.next !== undefined ? this.link('/v2/_catalog', [page.next], n) : {};
      return x.json(200, { repositories: page.items }, link);
    }
    const page = await this.metadata.listRepositories({ n, last });
    const link = page.more && n !== undefined ? this.link('/v2/_catalog', page.items, n) : {};
    x.json(200, { repositories: page.items }, link);
  }

  async referrers(x: Exchange, name: string, digest: string): Promise<void> {
    this.readOnly(x);
    requireDigest(digest);
    const artifactType = x.query.get('artifactType') || undefined;
    const manifests = await this.metadata.listReferrers({ repository: name, digest, artifactType });
    x.json(
      200,
      { schemaVersion: 2, mediaType: MT_OCI_INDEX, manifests },
      { 'Content-Type': MT_OCI_INDEX, ...(artifactType ? { 'OCI-Filters-Applied': 'artifactType' } : {}) },
    );
  }

  private readOnly(x: Exchange): void {
    if (x.method !== 'GET' && x.method !== 'HEAD') throw methodNotAllowed(x.method);
  }

  private link(path: string, items: string[], n: number): Record<string, string> {
    const last = items[items.length - 1];
    return { Link: `<${path}?last=${encodeURIComponent(last)}&n=${n}>; rel="next"` };
  }
}
