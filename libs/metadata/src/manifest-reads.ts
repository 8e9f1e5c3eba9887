import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type {
  Descriptor,
  ListReferrersRequest,
  ListRequest,
  ListResult,
  ListTagsRequest,
  ManifestGetRequest,
  ManifestResult,
} from '@wharf/contracts';
import {
  RegistryError,
  isSchema1MediaType,
  negotiate,
  parseAccept,
  parseManifest,
  parseReference,
  selectPlatform,
  type AcceptSet,
} from '@wharf/oci';
import { manifestTarget } from './events/envelope';
import { EVENT_OUTBOX, type EventRecorder } from './events/outbox';
import { METADATA_READ_CACHE, manifestKey, tagKey, type MetadataCache } from './read-cache';
import { NO_TAG_PULLS, TAG_PULLS, type TagPulls } from './rules/tag-pulls';
import type { Schema1Rewriter, ServedManifest, StoredManifest } from './schema1.seam';
import {
  listedRepositoryId,
  manifestByDigest,
  manifestByTag,
  referrersOf,
  repositoryNamesPage,
  tagNamesPage,
  type ManifestRow,
} from './store';
import { METADATA_DATA_SOURCE, SCHEMA1_REWRITER } from './tokens';

/** Hard cap on a tags list without `n`, so one request cannot pull a whole table into memory. */
const TAGS_UNPAGED_MAX = 100_000;
const CATALOG_DEFAULT_PAGE = 100;

/** The read side of MetadataApi: manifests (negotiated for the client), tags, catalog, referrers. */
@Injectable()
export class ManifestReads {
  constructor(
    @Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource,
    @Inject(METADATA_READ_CACHE) private readonly cache: MetadataCache,
    @Inject(SCHEMA1_REWRITER) private readonly schema1: Schema1Rewriter,
    @Inject(EVENT_OUTBOX) private readonly events: EventRecorder,
    // Optional for callers outside Nest (tests): no pull times recorded then.
    @Inject(TAG_PULLS) private readonly tagPulls: TagPulls = NO_TAG_PULLS,
  ) {}

  async getManifest(req: ManifestGetRequest): Promise<ManifestResult> {
    const result = await this.readManifest(req);
    if (req.event) {
      const ref = parseReference(req.reference);
      const tag = ref?.kind === 'tag' ? ref.tag : undefined;
      // A client's read by tag, HEAD included (containerd resolves with HEAD, then GETs by digest).
      if (tag !== undefined) this.tagPulls.pulled(req.repository, tag);
      if (this.events.enabled)
        this.events.pull(manifestTarget(req.repository, result, tag, req.event), req.event);
    }
    return result;
  }

  private async readManifest(req: ManifestGetRequest): Promise<ManifestResult> {
    const ref = parseReference(req.reference);
    if (!ref) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { reference: req.reference });
    const accept = parseAccept(req.accept);
    if (ref.kind === 'digest') {
      // By digest the stored bytes are always the answer; no negotiation can change them.
      const row = await this.findByDigest(req.repository, ref.digest, !req.head);
      if (!row) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest: ref.digest });
      return this.served(req, row);
    }
    const row = await this.findByTag(req.repository, ref.tag, !req.head);
    if (!row) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { tag: ref.tag });
    return this.negotiateTagged(req, ref.tag, row, accept);
  }

  private async negotiateTagged(
    req: ManifestGetRequest,
    tag: string,
    row: ManifestRow,
    accept: AcceptSet,
  ): Promise<ManifestResult> {
    const decision = negotiate(row.media_type, true, accept);
    switch (decision.action) {
      case 'serve':
        return this.served(req, row);
      case 'not-found':
        throw new RegistryError('MANIFEST_UNKNOWN', decision.message, { tag });
      case 'schema1':
        return this.schema1.rewrite({
          repository: req.repository,
          tag,
          manifest: this.toServe(req.repository, row, { tag }),
          head: req.head,
        });
      case 'select-platform': {
        const list = row.body ? row : await this.findByDigest(req.repository, row.digest, true);
        const parsed = list?.body ? parseManifest(list.media_type, list.body) : undefined;
        const chosen = parsed ? selectPlatform(parsed.manifests, this.schema1.defaultPlatform) : undefined;
        if (!chosen) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { tag });
        const child = await this.findByDigest(req.repository, chosen.digest, !req.head);
        if (!child) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest: chosen.digest });
        // The child must not lead to another platform selection: an index of indexes is served as is.
        const childDecision = negotiate(child.media_type, true, accept);
        if (childDecision.action === 'schema1') return this.negotiateTagged(req, tag, child, accept);
        return this.served(req, child);
      }
    }
  }

  /** The stored manifest as served: a stored schema1 payload is signed afresh for each response. */
  private async served(req: ManifestGetRequest, row: ManifestRow): Promise<ManifestResult> {
    if (!isSchema1MediaType(row.media_type)) return toStored(row);
    return this.schema1.serveStored({
      manifest: this.toServe(req.repository, row, { digest: row.digest }),
      head: req.head,
    });
  }

  /** `row` for the schema1 side, its body read only when that side needs it and the row lacks it. */
  private toServe(repository: string, row: ManifestRow, unknown: Record<string, string>): ServedManifest {
    return {
      read: toStored(row),
      withBody: async () => {
        const full = row.body ? row : await this.findByDigest(repository, row.digest, true);
        if (!full) throw new RegistryError('MANIFEST_UNKNOWN', undefined, unknown);
        return toStored(full);
      },
    };
  }

  async listTags({ repository, ...page }: ListTagsRequest): Promise<ListResult> {
    const repositoryId = await listedRepositoryId(this.ds, repository);
    if (repositoryId === undefined) throw new RegistryError('NAME_UNKNOWN', undefined, { name: repository });
    const limit = page.n ?? TAGS_UNPAGED_MAX;
    if (limit === 0) return { items: [], more: false };
    return pageOf(await tagNamesPage(this.ds, repositoryId, textBound(page.last), limit + 1), limit);
  }

  async listRepositories(page: ListRequest): Promise<ListResult> {
    const limit = page.n ?? CATALOG_DEFAULT_PAGE;
    if (limit === 0) return { items: [], more: false };
    return pageOf(await repositoryNamesPage(this.ds, textBound(page.last), limit + 1), limit);
  }

  async listReferrers({ repository, digest, artifactType }: ListReferrersRequest): Promise<Descriptor[]> {
    // No media type contains NUL, and Postgres text cannot hold one: such a filter matches nothing.
    if (artifactType?.includes('\0')) return [];
    return referrersOf(this.ds, repository, digest, artifactType ?? null);
  }

  private findByTag(repository: string, tag: string, withBody: boolean): Promise<ManifestRow | undefined> {
    const load = () => manifestByTag(this.ds, repository, tag, withBody);
    return this.cache.read(repository, tagKey(repository, tag), hasBody(withBody), load, bodySize);
  }

  private findByDigest(
    repository: string,
    digest: string,
    withBody: boolean,
  ): Promise<ManifestRow | undefined> {
    const load = () => manifestByDigest(this.ds, repository, digest, withBody);
    return this.cache.read(repository, manifestKey(repository, digest), hasBody(withBody), load, bodySize);
  }
}

/** A cached manifest row serves a GET only if it was read with its body; a HEAD takes any. */
const hasBody =
  (withBody: boolean) =>
  (row: ManifestRow): boolean =>
    !withBody || row.body !== null;
const bodySize = (row: ManifestRow): number => row.body?.length ?? 0;

/**
 * A pagination bound for a text column. Postgres text cannot hold NUL, so a client's `last` with one
 * would fail the query. No name contains NUL and NUL sorts before every other byte, so "after
 * `a\0b`" is exactly "after `a`": cutting at the first NUL keeps the meaning.
 */
function textBound(last: string | undefined): string | null {
  if (last === undefined) return null;
  const nul = last.indexOf('\0');
  return nul < 0 ? last : last.slice(0, nul);
}

function pageOf(items: string[], limit: number): ListResult {
  return items.length > limit ? { items: items.slice(0, limit), more: true } : { items, more: false };
}

function toStored(row: ManifestRow): StoredManifest {
  return {
    digest: row.digest,
    mediaType: row.media_type,
    size: Number(row.size),
    body: row.body ?? undefined,
  };
}
