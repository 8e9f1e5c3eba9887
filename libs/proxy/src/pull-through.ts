import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { BlobApi, BlobLink, MetadataApi } from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';
import { BlobFills, type BlobFillOptions } from './blob-fill';
import { ManifestFills } from './manifest-fill';
import type { ProxyConfig } from './proxy-config';
import { ProxyMetrics } from './proxy-metrics';
import { ProxyNames, type ProxyTarget } from './proxy-names';
import { UpstreamClient, UpstreamError } from './upstream-client';

/** Provided (non-null) when WHARF_PROXY_CONFIG names upstreams. */
export const PULL_THROUGH = Symbol('PULL_THROUGH');

/** The pull-through cache as the gateway uses it: names, manifest and blob fills, upstream clients. */
export class PullThrough {
  readonly names: ProxyNames;
  readonly manifests: ManifestFills;
  readonly blobs: BlobFills;
  readonly metrics = new ProxyMetrics();
  private readonly clients = new Map<string, UpstreamClient>();

  constructor(
    config: ProxyConfig,
    metadata: MetadataApi,
    blobs: BlobApi,
    opts: { blobFill?: Partial<BlobFillOptions>; now?: () => number } = {},
  ) {
    this.names = new ProxyNames(config);
    for (const u of config.upstreams) this.clients.set(u.name, new UpstreamClient(u));
    const clientOf = (name: string) => this.clients.get(name)!;
    const metrics = this.metrics;
    // Unique per process: a claim names the gateway whose fetch it is.
    const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.blobs = new BlobFills(metadata, blobs, clientOf, metrics, holder, opts.blobFill);
    this.manifests = new ManifestFills(metadata, this.blobs, clientOf, metrics, opts.now);
  }

  /** A blob's size from the upstream, for a HEAD of a blob not stored yet (nothing is fetched). */
  async headBlob(t: ProxyTarget, digest: string): Promise<BlobLink> {
    const { size } = await this.clients.get(t.upstream.name)!.headBlob(t.remote, digest);
    return { digest, size };
  }
}

/** An upstream's failure as the client sees it: the spec's code, with the upstream's reason. */
export function asRegistryError(e: unknown, what: 'manifest' | 'blob', detail: unknown): unknown {
  if (!(e instanceof UpstreamError)) return e;
  switch (e.failure) {
    case 'not-found':
      return new RegistryError(what === 'manifest' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', e.reason, detail);
    case 'rate-limited':
      return new RegistryError('TOOMANYREQUESTS', e.reason, detail);
    default:
      return new RegistryError('UNAVAILABLE', e.reason, detail);
  }
}
