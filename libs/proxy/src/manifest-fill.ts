import { Logger } from '@nestjs/common';
import type { ManifestGetRequest, ManifestResult, MetadataApi } from '@wharf/contracts';
import { MANIFEST_MEDIA_TYPES, RegistryError, parseManifest, parseReference } from '@wharf/oci';
import type { BlobFills } from './blob-fill';
import type { ProxyMetrics } from './proxy-metrics';
import type { ProxyTarget } from './proxy-names';
import { UpstreamError, type UpstreamClient, type UpstreamManifest } from './upstream-client';

const UNKNOWN = new Set(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']);

export function isUnknown(e: unknown): boolean {
  return e instanceof RegistryError && UNKNOWN.has(e.errors[0]?.code);
}

/**
 * Manifests of mirrored repositories. By digest: stored once, never asked for again. By tag: served
 * from what is stored for `tagTTL` after the upstream last confirmed it, then confirmed again (a
 * HEAD) before the answer, and followed when it moved. When the upstream fails, what is stored is
 * still served, past its TTL too: a failing upstream must not stop deployments.
 */
export class ManifestFills {
  private readonly log = new Logger('PullThrough');
  /** When the upstream last confirmed each `<local>:<tag>`; per process, so a restart asks again. */
  private readonly confirmed = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly metadata: MetadataApi,
    private readonly blobs: BlobFills,
    private readonly clientOf: (upstream: string) => UpstreamClient,
    private readonly metrics: ProxyMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  async get(t: ProxyTarget, req: ManifestGetRequest): Promise<ManifestResult> {
    const ref = parseReference(req.reference);
    if (!ref) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { reference: req.reference });
    const name = t.upstream.name;
    if (ref.kind === 'digest') {
      const stored = await this.read(req);
      if (stored) {
        this.metrics.hit(name);
        return stored;
      }
      await this.once(`${t.local}@${ref.digest}`, () => this.fill(t, ref.digest));
      this.metrics.miss(name);
      return this.metadata.getManifest(req);
    }
    const key = `${t.local}:${ref.tag}`;
    const at = this.confirmed.get(key);
    if (at !== undefined && this.now() - at < t.upstream.tagTtlMs) {
      const stored = await this.read(req);
      if (stored) {
        this.metrics.hit(name);
        return stored;
      }
    }
    try {
      const moved = await this.once(`${key}`, () => this.follow(t, ref.tag, key));
      if (moved) this.metrics.miss(name);
      else this.metrics.hit(name);
    } catch (e) {
      if (!(e instanceof UpstreamError) || e.failure === 'not-found' || e.failure === 'corrupt') throw e;
      const stored = await this.read(req);
      if (!stored) throw e;
      this.metrics.stale(name);
      this.log.warn(`serving ${t.local}:${ref.tag} past its TTL: ${e.reason}`);
      return stored;
    }
    return this.metadata.getManifest(req);
  }

  /** Confirms the tag with the upstream and moves it here when it moved there; true when it moved. */
  private async follow(t: ProxyTarget, tag: string, key: string): Promise<boolean> {
    const client = this.clientOf(t.upstream.name);
    const stored = await this.storedDigest(t.local, tag);
    const started = this.now();
    let moved = false;
    if (stored) {
      const head = await this.counted(t, () => client.headManifest(t.remote, tag));
      if (head.digest !== stored) {
        const m = await this.counted(t, () =>
          head.digest ? client.getManifest(t.remote, head.digest) : client.getManifest(t.remote, tag),
        );
        moved = m.digest !== stored;
        if (moved) await this.put(t, tag, m);
      }
    } else {
      await this.put(t, tag, await this.counted(t, () => client.getManifest(t.remote, tag)));
      moved = true;
    }
    this.confirmed.set(key, started);
    return moved;
  }

  private async fill(t: ProxyTarget, digest: string): Promise<void> {
    const client = this.clientOf(t.upstream.name);
    const m = await this.counted(t, () => client.getManifest(t.remote, digest));
    await this.put(t, digest, m);
  }

  /**
   * Stores the upstream's own bytes, and an image's config beside them: every client fetches it
   * next. Both at once: the service keeps a copy of the config with the manifest only when it can
   * already read it, an optimisation the schema1 rewrite backfills on first use. Layers and child
   * manifests come when pulled.
   */
  private async put(t: ProxyTarget, reference: string, m: UpstreamManifest): Promise<void> {
    const parsed = parseManifest(m.mediaType, m.body);
    await Promise.all([
      parsed.config?.digest ? this.blobs.ensure(t, parsed.config.digest) : undefined,
      this.metadata.putManifest({
        repository: t.local,
        reference,
        contentType: m.mediaType,
        body: m.body,
        proxied: true,
      }),
    ]);
  }

  private async storedDigest(repository: string, tag: string): Promise<string | undefined> {
    const stored = await this.read({
      repository,
      reference: tag,
      accept: [...MANIFEST_MEDIA_TYPES],
      head: true,
    });
    return stored?.digest;
  }

  private async read(req: ManifestGetRequest): Promise<ManifestResult | undefined> {
    try {
      return await this.metadata.getManifest(req);
    } catch (e) {
      if (isUnknown(e)) return undefined;
      throw e;
    }
  }

  private async counted<T>(t: ProxyTarget, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (e instanceof UpstreamError) this.metrics.errors.inc([t.upstream.name, e.failure]);
      throw e;
    }
  }

  /** Concurrent requests for the same manifest share one upstream conversation. */
  private once<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p as Promise<unknown> as Promise<void>);
    return p;
  }
}
