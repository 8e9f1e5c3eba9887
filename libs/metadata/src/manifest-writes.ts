import { Inject, Injectable, Optional } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import {
  BLOB_API,
  repositoryChanged,
  tagChanged,
  type BlobApi,
  type ManifestDeleteRequest,
  type ManifestPutRequest,
  type ManifestPutResult,
} from '@wharf/contracts';
import type { Queryable } from '@wharf/database';
import {
  MT_SCHEMA1_SIGNED,
  RegistryError,
  blobReferences,
  childManifests,
  effectiveArtifactType,
  isManifestMediaType,
  isSchema1MediaType,
  manifestMediaTypeOf,
  parseManifest,
  parseReference,
  sha256,
} from '@wharf/oci';
import { CACHE_COHERENCE, type CacheCoherence } from './coherence/cache-coherence';
import { manifestTarget } from './events/envelope';
import { EVENT_OUTBOX, type EventRecorder } from './events/outbox';
import { GC_OPTIONS, type GcOptions } from './gc/gc-options';
import { configToStore } from './image-config';
import {
  checkImmutableManifestDelete,
  checkImmutablePut,
  checkImmutableTagDelete,
  setImmutableTag,
} from './rules/immutable-tags';
import { enforceQuota, quotaRuleFor } from './rules/quotas';
import { NO_REPOSITORY_RULES, REPOSITORY_RULES, type RepositoryRules } from './rules/repository-rules';
import type { Schema1Rewriter } from './schema1.seam';
import {
  deleteManifestQueued,
  deleteTagQueued,
  ensureRepositoryId,
  insertManifest,
  insertManifestBlobs,
  insertManifestChildren,
  missingBlobLinks,
  missingManifests,
  putTag,
  reviewManifests,
  reviewTagTarget,
  tagsOfManifest,
} from './store';
import { METADATA_DATA_SOURCE, SCHEMA1_REWRITER } from './tokens';

/** The write side of MetadataApi for manifests and tags: PUT and DELETE. */
@Injectable()
export class ManifestWrites {
  constructor(
    @Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource,
    @Inject(BLOB_API) private readonly blobs: BlobApi,
    @Inject(CACHE_COHERENCE) private readonly coherence: CacheCoherence,
    @Inject(SCHEMA1_REWRITER) private readonly schema1: Schema1Rewriter,
    @Inject(EVENT_OUTBOX) private readonly events: EventRecorder,
    @Inject(GC_OPTIONS) private readonly gc: GcOptions,
    @Optional()
    @Inject(REPOSITORY_RULES)
    private readonly rules: RepositoryRules = NO_REPOSITORY_RULES,
  ) {}

  async putManifest(req: ManifestPutRequest): Promise<ManifestPutResult> {
    const schema1 = isSchema1Push(req) ? this.schema1.verifyPush(req) : undefined;
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
    const repositoryId = await ensureRepositoryId(this.ds, req.repository);
    // Read before the transaction so no lock is held across blob I/O.
    const config = await configToStore(this.blobs, manifest);
    const delayMs = this.gc.reviewDelayMs;
    const changes = ref.kind === 'tag' ? [tagChanged(req.repository, ref.tag)] : [];
    let recorded: string | undefined;
    // A mirror's tags follow its upstream, immutable or not.
    const immutable =
      ref.kind === 'tag' && !req.proxied
        ? (await this.rules.current()).immutableRule(req.repository, ref.tag)
        : undefined;
    const quota = quotaRuleFor(await this.rules.current(), req.repository, req.proxied);

    const stored = this.ds.transaction(async (em) => {
      // FOR SHARE keeps a concurrent blob unlink or manifest delete from slipping in between the
      // check and the insert: a manifest is visible only with everything it references linked.
      // A proxied manifest's references are filled from its upstream when pulled, so none is yet.
      const missing = req.proxied
        ? []
        : [
            ...(await missingBlobLinks(em, repositoryId, blobs)),
            ...(await missingManifests(em, repositoryId, children)),
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
      if (immutable && ref.kind === 'tag')
        await checkImmutablePut(em, immutable, req.repository, repositoryId, ref.tag, digest);
      if (ref.kind === 'tag') await reviewTagTarget(em, repositoryId, ref.tag, digest, delayMs);
      else await reviewManifests(em, repositoryId, [digest], delayMs);
      await insertManifest(em, {
        repositoryId,
        digest,
        mediaType: manifest.mediaType,
        artifactType: effectiveArtifactType(manifest) ?? null,
        body,
        configDigest: manifest.config?.digest ?? null,
        subjectDigest: manifest.subject?.digest ?? null,
        annotations: manifest.annotations ?? null,
        config,
      });
      if (blobs.length) await insertManifestBlobs(em, repositoryId, digest, blobs);
      if (children.length) await insertManifestChildren(em, repositoryId, digest, children);
      if (ref.kind === 'tag') {
        if (immutable) await setImmutableTag(em, immutable, req.repository, repositoryId, ref.tag, digest);
        else await putTag(em, repositoryId, ref.tag, digest);
        recorded = await this.coherence.record(em, changes);
      }
      if (this.events.enabled) {
        const described = { mediaType: manifest.mediaType, digest, size: body.length };
        const tag = ref.kind === 'tag' ? ref.tag : undefined;
        const target = manifestTarget(req.repository, described, tag, req.event);
        await this.events.record(em, [this.events.event('push', target, req.event)]);
      }
      // Last: the check holds the namespace's usage lock until commit (its blobs were checked when linked).
      if (quota) await enforceQuota(em, req.repository, quota);
    });
    // Once settled (committed or not), before the 201: no cache anywhere may serve the tag's old
    // digest (ADR 24).
    await stored.finally(() => this.coherence.settle(changes, recorded));
    return { digest, ...(manifest.subject ? { subject: manifest.subject.digest } : {}) };
  }

  async deleteManifest({ repository, reference, event }: ManifestDeleteRequest): Promise<void> {
    const ref = parseReference(reference);
    if (!ref) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { reference });
    // Tags and reference rows go with the manifest (ON DELETE CASCADE); a tag delete removes only the tag.
    const changes = [ref.kind === 'digest' ? repositoryChanged(repository) : tagChanged(repository, ref.tag)];
    let recorded: string | undefined;
    const delayMs = this.gc.reviewDelayMs;
    const rules = await this.rules.current();
    const remove = async (db: Queryable): Promise<boolean> => {
      if (ref.kind === 'tag' && !(await checkImmutableTagDelete(db, rules, repository, ref.tag)))
        return false;
      if (ref.kind === 'digest') await checkImmutableManifestDelete(db, rules, repository, ref.digest);
      // Distribution reports each tag a manifest delete takes with it. Read without a lock, so the
      // GC's lock order (review row first) stays intact; a tag moved onto this manifest in the same
      // instant goes without its own delete event, the manifest's still fires.
      const tags =
        ref.kind === 'digest' && this.events.enabled ? await tagsOfManifest(db, repository, ref.digest) : [];
      const deleted =
        ref.kind === 'digest'
          ? await deleteManifestQueued(db, { repository }, ref.digest, delayMs)
          : await deleteTagQueued(db, repository, ref.tag, delayMs);
      if (deleted) recorded = await this.coherence.record(db, changes);
      if (deleted && this.events.enabled) {
        const targets =
          ref.kind === 'digest'
            ? [{ digest: ref.digest, repository }, ...tags.map((tag) => ({ repository, tag }))]
            : [{ repository, tag: ref.tag }];
        await this.events.record(
          db,
          targets.map((t) => this.events.event('delete', t, event)),
        );
      }
      return deleted;
    };
    // One transaction: the record of what changed commits with the change (ADR 24).
    const deleted = this.ds.transaction((em) => remove(em));
    if (!(await deleted.finally(() => this.coherence.settle(changes, recorded)))) {
      throw new RegistryError(
        'MANIFEST_UNKNOWN',
        undefined,
        ref.kind === 'digest' ? { digest: ref.digest } : { tag: ref.tag },
      );
    }
  }
}

/**
 * A schema1 type, or a body that says schemaVersion 1 under a type that names no other format
 * (Distribution 2.8 reads those with its schema1 parser too).
 */
function isSchema1Push(req: ManifestPutRequest): boolean {
  if (isSchema1MediaType(req.contentType)) return true;
  return !isManifestMediaType(req.contentType) && manifestMediaTypeOf(req.body) === MT_SCHEMA1_SIGNED;
}
