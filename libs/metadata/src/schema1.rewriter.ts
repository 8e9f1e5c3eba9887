import { Logger, type Provider } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { BLOB_API, type BlobApi, type ManifestPutRequest, type ManifestResult } from '@wharf/contracts';
import type { Queryable } from '@wharf/database';
import {
  MT_DOCKER_MANIFEST,
  MT_SCHEMA1,
  MT_SCHEMA1_LAYER,
  MT_SCHEMA1_SIGNED,
  RegistryError,
  parseManifest,
  type Platform,
} from '@wharf/oci';
import {
  SCHEMA1_EMPTY_LAYER,
  SCHEMA1_EMPTY_LAYER_DIGEST,
  convertToSchema1,
  schema1PrettyFormat,
  signSchema1,
  verifySchema1,
  type Schema1PrettyFormat,
  type Schema1SigningKey,
} from '@wharf/schema1';
import { BoundedCache } from './bounded-cache';
import { IMAGE_CONFIG_MAX, readImageConfig } from './image-config';
import { BlobLinks } from './blob-links.service';
import { loadSchema1SigningKey, type Schema1KeySource } from './schema1-key';
import {
  SCHEMA1_PUSH_DISABLED,
  type Schema1Links,
  type Schema1Push,
  type Schema1Rewriter,
  type ServedManifest,
  type StoredManifest,
} from './schema1.seam';
import { backfillImageConfig, keptImageConfig } from './store';
import { METADATA_DATA_SOURCE, SCHEMA1_REWRITER } from './tokens';

export interface Schema1Options extends Schema1KeySource {
  /** Accept schema1 pushes (WHARF_SCHEMA1_PUSH); off by default, as in Distribution. */
  push: boolean;
  /** The Docker manifest-list entry old clients get (WHARF_SCHEMA1_DEFAULT_PLATFORM). */
  defaultPlatform: Pick<Platform, 'os' | 'architecture'>;
  /** Bounds of the converted-payload cache; the defaults suit one replica. */
  cacheEntries?: number;
  cacheBytes?: number;
}

/** A converted payload, reused for every response until it ages out. */
interface Converted {
  payload: Buffer;
  digest: string;
  usesEmptyLayer: boolean;
  format: Schema1PrettyFormat;
}

const DEFAULT_CACHE_ENTRIES = 10_000;
const DEFAULT_CACHE_BYTES = 64 << 20;

/**
 * The old-client side of the metadata service (PROTOCOL.md §3.3–3.4): schema2 → signed schema1 on
 * GET by tag, re-signing of stored schema1 payloads, and schema1 push.
 *
 * A converted payload depends only on the manifest, its config, the repository name and the tag,
 * so it is cached under exactly those (the manifest digest stands for the manifest and its config):
 * moving the tag changes the digest and so the key, and no invalidation is ever needed. Signing is
 * per response, because the signature carries the time, as in Distribution.
 */
export class Schema1RewriterService implements Schema1Rewriter {
  readonly defaultPlatform: Pick<Platform, 'os' | 'architecture'>;
  private readonly cache: BoundedCache<Converted>;
  // Concurrent first requests for one image share one conversion and one config read.
  private readonly converting = new Map<string, Promise<Converted>>();

  constructor(
    /** The pool: the image config kept beside a manifest is read and backfilled through it. */
    private readonly db: Queryable,
    private readonly blobs: BlobApi,
    /** The repository's blob links, for the empty layer. */
    private readonly links: Schema1Links,
    private readonly options: Schema1Options,
    private readonly key: Schema1SigningKey,
  ) {
    this.defaultPlatform = options.defaultPlatform;
    this.cache = new BoundedCache(
      options.cacheEntries ?? DEFAULT_CACHE_ENTRIES,
      options.cacheBytes ?? DEFAULT_CACHE_BYTES,
    );
  }

  async rewrite(input: {
    repository: string;
    tag: string;
    manifest: ServedManifest;
    head: boolean;
  }): Promise<ManifestResult> {
    const manifest = await input.manifest.withBody();
    const converted = await this.converted(input.repository, input.tag, manifest);
    if (converted.usesEmptyLayer) await this.ensureEmptyLayer(input.repository);
    return this.signed(converted, input.head);
  }

  async serveStored(input: { manifest: ServedManifest; head: boolean }): Promise<ManifestResult> {
    const manifest = await input.manifest.withBody();
    const payload = manifest.body;
    if (!payload) throw new Error('a stored schema1 manifest is served from its payload');
    const converted: Converted = {
      payload,
      digest: manifest.digest,
      usesEmptyLayer: false,
      format: schema1PrettyFormat(payload),
    };
    return this.signed(converted, input.head);
  }

  verifyPush(req: ManifestPutRequest): Schema1Push {
    if (!this.options.push) throw new RegistryError('MANIFEST_INVALID', SCHEMA1_PUSH_DISABLED);
    // Both schema1 types carry a signed document, as Distribution reads them (its unsigned type
    // falls back to the signed parser): a push without signatures is refused.
    const verified = verifySchema1(req.body);
    const layers = [...new Set(verified.manifest.fsLayers.map((l) => l.blobSum))];
    return {
      payload: verified.payload,
      manifest: {
        mediaType: MT_SCHEMA1,
        kind: 'image',
        layers: layers.map((digest) => ({ mediaType: MT_SCHEMA1_LAYER, digest, size: 0 })),
        manifests: [],
      },
    };
  }

  private signed(converted: Converted, head: boolean): ManifestResult {
    const doc = signSchema1(converted.payload, this.key, new Date(), converted.format);
    return {
      digest: converted.digest,
      mediaType: MT_SCHEMA1_SIGNED,
      size: doc.length,
      ...(head ? {} : { body: doc }),
    };
  }

  private converted(repository: string, tag: string, manifest: StoredManifest): Promise<Converted> {
    const key = `${manifest.digest}\n${repository}\n${tag}`;
    const hit = this.cache.get(key);
    if (hit) return Promise.resolve(hit);
    let pending = this.converting.get(key);
    if (!pending) {
      pending = this.convert(repository, tag, manifest)
        .then((converted) => {
          this.cache.set(key, converted, converted.payload.length + key.length);
          return converted;
        })
        .finally(() => this.converting.delete(key));
      this.converting.set(key, pending);
    }
    return pending;
  }

  private async convert(repository: string, tag: string, manifest: StoredManifest): Promise<Converted> {
    if (!manifest.body) throw new Error('the schema1 rewrite needs the manifest body');
    const parsed = parseManifest(MT_DOCKER_MANIFEST, manifest.body);
    if (!parsed.config) throw new RegistryError('MANIFEST_INVALID', 'manifest has no config');
    const config = await this.configOf(repository, manifest.digest, parsed.config.digest);
    const result = convertToSchema1({
      name: repository,
      tag,
      layers: parsed.layers.map((l) => l.digest),
      config,
    });
    return { ...result, format: schema1PrettyFormat(result.payload) };
  }

  /** The config stored beside the manifest; for rows older than that column, read once and kept. */
  private async configOf(repository: string, manifestDigest: string, configDigest: string): Promise<Buffer> {
    const kept = await keptImageConfig(this.db, repository, manifestDigest);
    if (!kept) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest: manifestDigest });
    if (kept.config) return kept.config;
    let config: Buffer | null;
    try {
      config = await readImageConfig(this.blobs, configDigest);
    } catch (e) {
      // Distribution answers a config it cannot load with MANIFEST_INVALID too.
      if (e instanceof RegistryError && e.code === 'BLOB_UNKNOWN') {
        throw new RegistryError('MANIFEST_INVALID', 'image config blob unknown', { digest: configDigest });
      }
      throw e;
    }
    if (!config) {
      throw new RegistryError(
        'MANIFEST_INVALID',
        `image config is larger than ${IMAGE_CONFIG_MAX} bytes or does not match its digest`,
        { digest: configDigest },
      );
    }
    await backfillImageConfig(this.db, kept.repositoryId, manifestDigest, config);
    return config;
  }

  /**
   * The gzipped empty tar named by throwaway layers must be fetchable from this repository before
   * the manifest naming it is served: stored once, then linked (nothing is linked before it exists).
   * The link check runs on every such response, so it goes through the metadata service's own
   * lookup (and its read cache); the link, through its write path.
   */
  private async ensureEmptyLayer(repository: string): Promise<void> {
    const emptyLayer = { repository, digest: SCHEMA1_EMPTY_LAYER_DIGEST };
    if (await this.links.statBlob(emptyLayer)) return;
    if (!(await this.blobs.statBlob({ digest: SCHEMA1_EMPTY_LAYER_DIGEST }))) {
      await this.blobs.putBlob({ digest: SCHEMA1_EMPTY_LAYER_DIGEST, content: SCHEMA1_EMPTY_LAYER });
    }
    await this.links.linkBlob({ ...emptyLayer, size: SCHEMA1_EMPTY_LAYER.length });
  }
}

/**
 * Binds SCHEMA1_REWRITER. The signing key is loaded (or generated once and kept) right here, when
 * the module is registered: a bad key file stops the start before any pool or port is opened.
 */
export function schema1Providers(options: Schema1Options): Provider[] {
  const loaded = loadSchema1SigningKey(options);
  return [
    {
      provide: SCHEMA1_REWRITER,
      inject: [METADATA_DATA_SOURCE, BLOB_API, BlobLinks],
      useFactory: (ds: DataSource, blobs: BlobApi, links: BlobLinks): Schema1RewriterService => {
        new Logger('schema1').log(
          `${loaded.generated ? 'generated' : 'loaded'} schema1 signing key ${loaded.key.keyId} (${loaded.path})`,
        );
        return new Schema1RewriterService(ds, blobs, links, options, loaded.key);
      },
    },
  ];
}
