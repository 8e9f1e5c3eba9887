import { Inject, Injectable, Optional } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import type {
  BlobLink,
  Descriptor,
  EventContext,
  ListRequest,
  RegistryEvent,
  ListResult,
  ManifestGetRequest,
  ManifestPutRequest,
  ManifestPutResult,
  ManifestResult,
  MetadataApi,
} from '@wharf/contracts';
import { BLOB_API, type BlobApi } from '@wharf/contracts';
import {
  RegistryError,
  blobReferences,
  childManifests,
  isManifestMediaType,
  isSchema1MediaType,
  manifestMediaTypeOf,
  MT_SCHEMA1_SIGNED,
  negotiate,
  parseAccept,
  parseManifest,
  parseReference,
  selectPlatform,
  sha256,
  type AcceptSet,
  type ParsedManifest,
  type Platform,
} from '@wharf/oci';
import { blobTarget, manifestTarget } from './events/envelope';
import { EVENT_OUTBOX, type EventOutbox } from './events/outbox';
import { configToStore } from './image-config';
import {
  METADATA_READ_CACHE,
  MetadataReadCache,
  blobKey,
  manifestKey,
  readThrough,
  tagKey,
} from './read-cache';
import { GC_OPTIONS, type GcOptions } from './gc/gc-options';
import * as gcQueue from './gc/queue';

export const METADATA_DATA_SOURCE = Symbol('METADATA_DATA_SOURCE');

/**
 * The seam for the schema2 → schema1 rewrite (PROTOCOL.md §3.4). Without a rewriter, a schema2
 * manifest is served as stored, as Distribution 3 does.
 */
export const SCHEMA1_REWRITER = Symbol('SCHEMA1_REWRITER');
export interface Schema1Rewriter {
  /** The Docker manifest-list entry served to clients that do not accept lists (linux/amd64). */
  readonly defaultPlatform?: Pick<Platform, 'os' | 'architecture'>;
  rewrite(input: {
    repository: string;
    tag: string;
    manifest: StoredManifest;
    head?: boolean;
    /** The repository's blob links, for the empty layer: the service's own reads and writes. */
    links: Pick<MetadataApi, 'statBlob' | 'linkBlob'>;
  }): Promise<ManifestResult>;
  /** Signs a stored schema1 payload for one response (Distribution re-signs on every read). */
  serveStored?(input: { manifest: StoredManifest; head: boolean }): Promise<ManifestResult>;
  /** Verifies a schema1 PUT; MANIFEST_INVALID (SCHEMA1_PUSH_DISABLED) when push is off. */
  verifyPush?(req: ManifestPutRequest): Schema1Push;
}

/** A verified schema1 push: the payload to store (its digest is the manifest digest) and its blobs. */
export interface Schema1Push {
  payload: Buffer;
  manifest: ParsedManifest;
}

// Distribution 2.8 answers a 500 here (distribution#2925); a client deserves to know why.
export const SCHEMA1_PUSH_DISABLED = 'schema1 manifest push is disabled (WHARF_SCHEMA1_PUSH=true enables it)';

export interface StoredManifest {
  digest: string;
  mediaType: string;
  size: number;
  body?: Buffer;
}

/** Hard cap on a tags list without `n`, so one request cannot pull a whole table into memory. */
const TAGS_UNPAGED_MAX = 100_000;
const CATALOG_DEFAULT_PAGE = 100;
/** WHARF_GC_REVIEW_DELAY's default, for a service wired without GC options. */
const DEFAULT_REVIEW_DELAY_MS = 24 * 3600_000;

interface ManifestRow {
  digest: string;
  media_type: string;
  size: number;
  body: Buffer | null;
}

@Injectable()
export class MetadataService implements MetadataApi {
  constructor(
    @Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource,
    @Optional() @Inject(SCHEMA1_REWRITER) private readonly schema1?: Schema1Rewriter,
    @Optional() @Inject(BLOB_API) private readonly blobs?: BlobApi,
    @Optional() @Inject(METADATA_READ_CACHE) private readonly cache?: MetadataReadCache,
    @Optional() @Inject(EVENT_OUTBOX) private readonly events?: EventOutbox | null,
    @Optional() @Inject(GC_OPTIONS) private readonly gc?: GcOptions,
  ) {}

  /** How long what a write may orphan is protected from the collector (in-flight pushes). */
  private get reviewDelayMs(): number {
    return this.gc?.reviewDelayMs ?? DEFAULT_REVIEW_DELAY_MS;
  }

  async getManifest(req: ManifestGetRequest): Promise<ManifestResult> {
    const result = await this.readManifest(req);
    if (req.event && this.events) {
      const ref = parseReference(req.reference);
      const tag = ref?.kind === 'tag' ? ref.tag : undefined;
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
      case 'schema1': {
        if (!this.schema1) return toResult(row);
        const full = row.body ? row : await this.findByDigest(req.repository, row.digest, true);
        if (!full) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { tag });
        return this.schema1.rewrite({
          repository: req.repository,
          tag,
          manifest: toStored(full),
          head: req.head,
          links: this,
        });
      }
      case 'select-platform': {
        const list = row.body ? row : await this.findByDigest(req.repository, row.digest, true);
        const parsed = list?.body ? parseManifest(list.media_type, list.body) : undefined;
        const chosen = parsed ? selectPlatform(parsed.manifests, this.schema1?.defaultPlatform) : undefined;
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
    if (!this.schema1?.serveStored || !isSchema1MediaType(row.media_type)) return toResult(row);
    const full = row.body ? row : await this.findByDigest(req.repository, row.digest, true);
    if (!full) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest: row.digest });
    return this.schema1.serveStored({ manifest: toStored(full), head: req.head });
  }

  async putManifest(req: ManifestPutRequest): Promise<ManifestPutResult> {
    const schema1 = isSchema1Push(req) ? this.verifySchema1Push(req) : undefined;
    // A schema1 manifest is stored as its payload (signatures dropped) and addressed by its digest.
    const body = schema1?.payload ?? req.body;
    const digest = sha256(body);
    const ref = parseReference(req.reference);
    if (!ref) throw new RegistryError('TAG_INVALID', undefined, { reference: req.reference });
    if (ref.kind === 'digest' && ref.digest !== digest) {
      throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match the digest in the URL', {
        expected: ref.digest,
        actual: digest,
      });
    }
    const manifest = schema1?.manifest ?? parseManifest(req.contentType, req.body);
    const blobs = blobReferences(manifest);
    const children = childManifests(manifest);
    const artifactType =
      manifest.artifactType ?? (manifest.kind === 'image' ? manifest.config?.mediaType : undefined) ?? null;
    const repositoryId = await this.ensureRepository(req.repository);
    // Read before the transaction so no lock is held across blob I/O.
    const config = await configToStore(this.blobs, manifest);

    const stored = this.ds.transaction(async (em) => {
      // FOR SHARE keeps a concurrent blob unlink or manifest delete from slipping in between the
      // check and the insert: a manifest is visible only with everything it references linked.
      const missing = [
        ...(await missingFrom(em, 'blob_links', repositoryId, blobs)),
        ...(await missingFrom(em, 'manifests', repositoryId, children)),
      ];
      if (missing.length) {
        throw RegistryError.many(
          missing.map((d) => ({
            code: 'MANIFEST_BLOB_UNKNOWN' as const,
            message: 'blob unknown to registry',
            detail: { digest: d },
          })),
        );
      }
      // GC: a moved tag may leave its old manifest untagged; a push by digest starts untagged.
      // Queued before the manifest row is locked: the collector's order (review row, then manifest).
      if (ref.kind === 'tag')
        await gcQueue.reviewTagTarget(em, repositoryId, ref.tag, digest, this.reviewDelayMs);
      else await gcQueue.reviewManifests(em, repositoryId, [digest], this.reviewDelayMs);
      // DO UPDATE, not DO NOTHING: it locks an existing row, so a concurrent DELETE of this manifest
      // waits for this transaction instead of pulling the row out from under the inserts below.
      await em.query(
        `INSERT INTO metadata.manifests
           (repository_id, digest, media_type, artifact_type, size, body, config_digest, subject_digest, annotations, config)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (repository_id, digest) DO UPDATE SET digest = EXCLUDED.digest`,
        [
          repositoryId,
          digest,
          manifest.mediaType,
          artifactType,
          body.length,
          body,
          manifest.config?.digest ?? null,
          manifest.subject?.digest ?? null,
          manifest.annotations ? JSON.stringify(jsonbSafe(manifest.annotations)) : null,
          config,
        ],
      );
      if (blobs.length) {
        await em.query(
          `INSERT INTO metadata.manifest_blobs (repository_id, manifest_digest, blob_digest)
           SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING`,
          [repositoryId, digest, blobs],
        );
      }
      if (children.length) {
        await em.query(
          `INSERT INTO metadata.manifest_children (repository_id, parent_digest, child_digest)
           SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING`,
          [repositoryId, digest, children],
        );
      }
      if (ref.kind === 'tag') {
        await em.query(
          `INSERT INTO metadata.tags (repository_id, name, manifest_digest, updated_at)
           VALUES ($1, $2, $3, now())
           ON CONFLICT (repository_id, name) DO UPDATE SET manifest_digest = EXCLUDED.manifest_digest, updated_at = now()`,
          [repositoryId, ref.tag, digest],
        );
      }
      if (this.events) {
        const described = { mediaType: manifest.mediaType, digest, size: body.length };
        const tag = ref.kind === 'tag' ? ref.tag : undefined;
        const target = manifestTarget(req.repository, described, tag, req.event);
        await this.events.record(em, [this.events.event('push', target, req.event)]);
      }
    });
    // Once settled (committed or not), before the 201: no read may serve the tag's old digest.
    await stored.finally(() => ref.kind === 'tag' && this.cache?.tagChanged(req.repository, ref.tag));
    return { digest, ...(manifest.subject ? { subject: manifest.subject.digest } : {}) };
  }

  private verifySchema1Push(req: ManifestPutRequest): Schema1Push {
    if (!this.schema1?.verifyPush) throw new RegistryError('MANIFEST_INVALID', SCHEMA1_PUSH_DISABLED);
    return this.schema1.verifyPush(req);
  }

  async deleteManifest(repository: string, reference: string, event?: EventContext): Promise<void> {
    const ref = parseReference(reference);
    if (!ref) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { reference });
    // Tags and reference rows go with the manifest (ON DELETE CASCADE); a tag delete removes only the tag.
    const invalidate = (): void =>
      ref.kind === 'digest'
        ? this.cache?.repositoryChanged(repository)
        : this.cache?.tagChanged(repository, ref.tag);
    const remove = async (sql: Pick<DataSource, 'query'>): Promise<unknown[]> => {
      // Distribution reports each tag a manifest delete takes with it. Read without a lock, so the
      // GC's lock order (review row first) stays intact; a tag moved onto this manifest in the same
      // instant goes without its own delete event, the manifest's still fires.
      const tags: { name: string }[] =
        ref.kind === 'digest' && this.events
          ? await sql.query(
              `SELECT t.name FROM metadata.tags t JOIN metadata.repositories r ON r.id = t.repository_id
               WHERE r.name = $1 AND t.manifest_digest = $2 ORDER BY t.name`,
              [repository, ref.digest],
            )
          : [];
      const deleted: unknown[] = (await (ref.kind === 'digest'
        ? gcQueue.deleteManifestQueued(sql, { repository }, ref.digest, this.reviewDelayMs)
        : gcQueue.deleteTagQueued(sql, repository, ref.tag, this.reviewDelayMs))) as unknown[];
      const events = this.events;
      if (events && rowCount(deleted)) {
        const targets =
          ref.kind === 'digest'
            ? [{ digest: ref.digest, repository }, ...tags.map((t) => ({ repository, tag: t.name }))]
            : [{ repository, tag: ref.tag }];
        await events.record(
          sql,
          targets.map((t) => events.event('delete', t, event)),
        );
      }
      return deleted;
    };
    const rows = await (this.events ? this.ds.transaction((em) => remove(em)) : remove(this.ds)).finally(
      invalidate,
    );
    if (!rowCount(rows)) {
      throw new RegistryError(
        'MANIFEST_UNKNOWN',
        undefined,
        ref.kind === 'digest' ? { digest: ref.digest } : { tag: ref.tag },
      );
    }
  }

  async listTags(repository: string, page: ListRequest): Promise<ListResult> {
    // A repository exists for the tags list when it holds a manifest, as for the catalog: a row made
    // by a blob upload or by a manifest PUT that was then refused is not one (Distribution: 404).
    const repo: { id: string }[] = await this.ds.query(
      `SELECT r.id FROM metadata.repositories r WHERE r.name = $1
         AND EXISTS (SELECT 1 FROM metadata.manifests m WHERE m.repository_id = r.id)`,
      [repository],
    );
    if (!repo.length) throw new RegistryError('NAME_UNKNOWN', undefined, { name: repository });
    const limit = page.n ?? TAGS_UNPAGED_MAX;
    if (limit === 0) return { items: [], more: false };
    const rows: { name: string }[] = await this.ds.query(
      `SELECT name FROM metadata.tags WHERE repository_id = $1 AND ($2::text IS NULL OR name > $2)
       ORDER BY name LIMIT $3`,
      [repo[0].id, textBound(page.last), limit + 1],
    );
    return pageOf(
      rows.map((r) => r.name),
      limit,
    );
  }

  async listRepositories(page: ListRequest): Promise<ListResult> {
    const limit = page.n ?? CATALOG_DEFAULT_PAGE;
    if (limit === 0) return { items: [], more: false };
    // Only repositories with at least one manifest, like Distribution (blobs alone are not a repository).
    const rows: { name: string }[] = await this.ds.query(
      `SELECT r.name FROM metadata.repositories r
       WHERE ($1::text IS NULL OR r.name > $1)
         AND EXISTS (SELECT 1 FROM metadata.manifests m WHERE m.repository_id = r.id)
       ORDER BY r.name LIMIT $2`,
      [textBound(page.last), limit + 1],
    );
    return pageOf(
      rows.map((r) => r.name),
      limit,
    );
  }

  async listReferrers(repository: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    // No media type contains NUL, and Postgres text cannot hold one: such a filter matches nothing.
    if (artifactType?.includes('\0')) return [];
    const rows: {
      digest: string;
      media_type: string;
      size: number;
      artifact_type: string | null;
      annotations: Record<string, string> | null;
    }[] = await this.ds.query(
      `SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations
       FROM metadata.manifests m JOIN metadata.repositories r ON r.id = m.repository_id
       WHERE r.name = $1 AND m.subject_digest = $2 AND ($3::text IS NULL OR m.artifact_type = $3)
       ORDER BY m.created_at, m.digest`,
      [repository, digest, artifactType ?? null],
    );
    return rows.map((r) => ({
      mediaType: r.media_type,
      digest: r.digest,
      size: Number(r.size),
      ...(r.artifact_type ? { artifactType: r.artifact_type } : {}),
      ...(r.annotations ? { annotations: r.annotations } : {}),
    }));
  }

  async statBlob(
    repository: string,
    digest: string,
    event?: EventContext,
    options?: { head?: boolean },
  ): Promise<BlobLink | null> {
    const load = () => this.queryBlobLink(repository, digest);
    const link = options?.head
      ? await this.statForPush(repository, digest)
      : ((await readThrough(this.cache, repository, blobKey(repository, digest), always, load)) ?? null);
    if (link && event) this.events?.pull(blobTarget(repository, digest, link.size, event), event);
    return link;
  }

  /**
   * A HEAD answered 200 lets a client reference the blob without uploading it: protect it from the
   * collector first (gc/queue.ts), then read the link past the cache, so a collection that finished
   * while we waited answers 404 and the client uploads instead of losing its manifest PUT.
   */
  private async statForPush(repository: string, digest: string): Promise<BlobLink | null> {
    await gcQueue.protectLinkedBlob(this.ds, repository, digest, this.reviewDelayMs);
    return (await this.queryBlobLink(repository, digest)) ?? null;
  }

  private async queryBlobLink(repository: string, digest: string): Promise<BlobLink | undefined> {
    const rows: { size: string }[] = await this.ds.query(
      `SELECT bl.size FROM metadata.blob_links bl JOIN metadata.repositories r ON r.id = bl.repository_id
       WHERE r.name = $1 AND bl.digest = $2`,
      [repository, digest],
    );
    return rows.length ? { digest, size: Number(rows[0].size) } : undefined;
  }

  async linkBlob(repository: string, digest: string, size: number, event?: EventContext): Promise<void> {
    const pushed = this.events?.event('push', blobTarget(repository, digest, size, event), event);
    await this.link(repository, digest, size, pushed);
  }

  /** Links a blob; with an event, records it in the same transaction. */
  private async link(
    repository: string,
    digest: string,
    size: number,
    recorded?: RegistryEvent,
    mount?: { from: string | null },
  ): Promise<boolean> {
    // Every link queues the blob for GC review (uploaded or mounted is not yet referenced), taking
    // the review row before the links: the collector's lock order (gc/queue.ts).
    if ((recorded && this.events) || mount) {
      const events = this.events;
      const repositoryId = await this.ensureRepository(repository);
      return this.ds.transaction(async (em) => {
        await gcQueue.reviewBlobs(em, [digest], this.reviewDelayMs);
        // A mount re-reads its source under lock: a collection of this digest that finished while
        // we waited for the review row leaves nothing to mount.
        if (mount && !(await gcQueue.lockSomeLink(em, digest, mount.from))) return false;
        await em.query(
          `INSERT INTO metadata.blob_links (repository_id, digest, size) VALUES ($1, $2, $3)
           ON CONFLICT (repository_id, digest) DO NOTHING`,
          [repositoryId, digest, size],
        );
        if (recorded && events) await events.record(em, [recorded]);
        return true;
      });
    }
    // One round trip when the repository exists, as it does for every blob of a push but the first.
    const link = async () =>
      ((await gcQueue.linkBlob(this.ds, repository, digest, size, this.reviewDelayMs)) as unknown[]).length >
      0;
    if (await link()) return true;
    // Repositories are never deleted, so once created the same statement finds it.
    await this.ensureRepository(repository);
    await link();
    return true;
  }

  async unlinkBlob(repository: string, digest: string, event?: EventContext): Promise<void> {
    const remove = async (sql: Pick<DataSource, 'query'>): Promise<unknown> => {
      // GC: without this link the bytes may be referenced by nothing.
      const deleted: unknown = await gcQueue.unlinkBlob(sql, repository, digest, this.reviewDelayMs);
      if (this.events && rowCount(deleted))
        await this.events.record(sql, [this.events.event('delete', { digest, repository }, event)]);
      return deleted;
    };
    const rows = await (this.events ? this.ds.transaction((em) => remove(em)) : remove(this.ds)).finally(() =>
      this.cache?.blobUnlinked(repository, digest),
    );
    if (!rowCount(rows)) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
  }

  async mountBlob(
    repository: string,
    digest: string,
    from?: string,
    event?: EventContext,
  ): Promise<BlobLink | null> {
    const rows: { size: string; name: string }[] = await this.ds.query(
      `SELECT bl.size, r.name FROM metadata.blob_links bl JOIN metadata.repositories r ON r.id = bl.repository_id
       WHERE bl.digest = $1 AND ($2::text IS NULL OR r.name = $2) LIMIT 1`,
      [digest, from ?? null],
    );
    if (!rows.length) return null;
    const size = Number(rows[0].size);
    const target = blobTarget(repository, digest, size, event, rows[0].name);
    const mounted = await this.link(repository, digest, size, this.events?.event('mount', target, event), {
      from: from ?? null,
    });
    return mounted ? { digest, size } : null;
  }

  /** Repository ids are created on first write; outside any transaction so racing pushes never deadlock. */
  private async ensureRepository(name: string): Promise<string> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const found: { id: string }[] = await this.ds.query(
        'SELECT id FROM metadata.repositories WHERE name = $1',
        [name],
      );
      if (found.length) return found[0].id;
      const inserted: { id: string }[] = await this.ds.query(
        'INSERT INTO metadata.repositories (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id',
        [name],
      );
      if (inserted.length) return inserted[0].id;
    }
    throw new Error(`repository ${name} could not be created`);
  }

  private findByTag(repository: string, tag: string, withBody: boolean): Promise<ManifestRow | undefined> {
    const load = () => this.queryByTag(repository, tag, withBody);
    return readThrough(this.cache, repository, tagKey(repository, tag), hasBody(withBody), load, bodySize);
  }

  private async queryByTag(
    repository: string,
    tag: string,
    withBody: boolean,
  ): Promise<ManifestRow | undefined> {
    const rows: ManifestRow[] = await this.ds.query(
      `SELECT m.digest, m.media_type, m.size, CASE WHEN $3 THEN m.body END AS body
       FROM metadata.repositories r
       JOIN metadata.tags t ON t.repository_id = r.id
       JOIN metadata.manifests m ON m.repository_id = t.repository_id AND m.digest = t.manifest_digest
       WHERE r.name = $1 AND t.name = $2`,
      [repository, tag, withBody],
    );
    return rows[0];
  }

  private findByDigest(
    repository: string,
    digest: string,
    withBody: boolean,
  ): Promise<ManifestRow | undefined> {
    const load = () => this.queryByDigest(repository, digest, withBody);
    return readThrough(
      this.cache,
      repository,
      manifestKey(repository, digest),
      hasBody(withBody),
      load,
      bodySize,
    );
  }

  private async queryByDigest(
    repository: string,
    digest: string,
    withBody: boolean,
  ): Promise<ManifestRow | undefined> {
    const rows: ManifestRow[] = await this.ds.query(
      `SELECT m.digest, m.media_type, m.size, CASE WHEN $3 THEN m.body END AS body
       FROM metadata.repositories r JOIN metadata.manifests m ON m.repository_id = r.id
       WHERE r.name = $1 AND m.digest = $2`,
      [repository, digest, withBody],
    );
    return rows[0];
  }
}

/** A cached manifest row serves a GET only if it was read with its body; a HEAD takes any. */
const hasBody =
  (withBody: boolean) =>
  (row: ManifestRow): boolean =>
    !withBody || row.body !== null;
const bodySize = (row: ManifestRow): number => row.body?.length ?? 0;
const always = (): boolean => true;

/**
 * A schema1 type, or a body that says schemaVersion 1 under a type that names no other format
 * (Distribution 2.8 reads those with its schema1 parser too).
 */
function isSchema1Push(req: ManifestPutRequest): boolean {
  if (isSchema1MediaType(req.contentType)) return true;
  return !isManifestMediaType(req.contentType) && manifestMediaTypeOf(req.body) === MT_SCHEMA1_SIGNED;
}

async function missingFrom(
  em: EntityManager,
  table: 'blob_links' | 'manifests',
  repositoryId: string,
  digests: string[],
): Promise<string[]> {
  if (!digests.length) return [];
  const rows: { digest: string }[] = await em.query(
    `SELECT digest FROM metadata.${table} WHERE repository_id = $1 AND digest = ANY($2::text[]) FOR SHARE`,
    [repositoryId, digests],
  );
  const present = new Set(rows.map((r) => r.digest));
  return digests.filter((d) => !present.has(d));
}

/** TypeORM returns `[rows, count]` for DELETE ... RETURNING on postgres. */
function rowCount(result: unknown): number {
  if (
    Array.isArray(result) &&
    result.length === 2 &&
    Array.isArray(result[0]) &&
    typeof result[1] === 'number'
  ) {
    return result[1];
  }
  return Array.isArray(result) ? result.length : 0;
}

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

/**
 * Annotations as jsonb can hold: jsonb rejects `\u0000` and lone surrogates, which JSON text (and
 * so a pushed manifest) may contain. Both become U+FFFD, as Go's JSON decoder does for lone
 * surrogates; only the referrers listing shows the result, the stored manifest bytes stay exact.
 */
function jsonbSafe(annotations: Record<string, string>): Record<string, string> {
  // With the `u` flag a paired surrogate is one code point, so \p{Cs} matches only lone ones.
  const clean = (v: string): string => v.replace(/[\0\p{Cs}]/gu, '\uFFFD');
  return Object.fromEntries(Object.entries(annotations).map(([k, v]) => [clean(k), clean(v)]));
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

function toResult(row: ManifestRow): ManifestResult {
  return toStored(row);
}
