/**
 * Reads an image (or an image index / manifest list) back from wherever it ended up — the registry
 * under test, an oci-layout directory, a `dir:` directory written by skopeo — verifying every
 * manifest and blob against its digest and descriptor size on the way, and reduces it to an
 * {@link ArtifactSummary}. Two summaries compare equal iff the manifests, configs and layers are
 * the same, which is how the tests check that content round-trips through a push and a pull.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export const MediaTypes = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
} as const;

const LIST_TYPES: string[] = [MediaTypes.dockerList, MediaTypes.ociIndex];
const IMAGE_TYPES: string[] = [MediaTypes.dockerManifest, MediaTypes.ociManifest];
export const ALL_MANIFEST_TYPES = [...LIST_TYPES, ...IMAGE_TYPES];

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface ImageSummary {
  digest: string;
  mediaType: string;
  size: number;
  /** Only for instances of an index/list: the platform of the index entry. */
  platform?: Descriptor['platform'];
  config: Descriptor;
  layers: Descriptor[];
  /** rootfs.diff_ids of the config: uncompressed layer digests, what podman/buildah report. */
  diffIds: string[];
  os: string;
  architecture: string;
  variant?: string;
}

export interface ArtifactSummary {
  digest: string;
  mediaType: string;
  size: number;
  /** The single image, or the instances of the index/list in index order. */
  images: ImageSummary[];
  isList: boolean;
}

/** Somewhere manifests and blobs can be read from by digest. */
export interface ContentStore {
  readonly label: string;
  manifest(digest: string, mediaType: string): Promise<Buffer>;
  blob(digest: string): Promise<Buffer>;
}

function check(condition: unknown, message: () => string): asserts condition {
  if (!condition) throw new Error(message());
}

function isList(mediaType: string): boolean {
  return LIST_TYPES.includes(mediaType);
}

/**
 * Walks the artifact `digest` (of `mediaType`) in `store`: every manifest and blob must hash to its
 * digest and have its descriptor's size; the config's rootfs must have one diff_id per layer.
 */
export async function summarize(
  store: ContentStore,
  digest: string,
  mediaType: string,
  expectedSize?: number,
): Promise<ArtifactSummary> {
  const raw = await store.manifest(digest, mediaType);
  const where = `${store.label} manifest ${digest}`;
  check(sha256(raw) === digest, () => `${where}: content hashes to ${sha256(raw)}`);
  check(
    expectedSize === undefined || raw.length === expectedSize,
    () => `${where}: ${raw.length} bytes, descriptor says ${expectedSize}`,
  );
  const json = JSON.parse(raw.toString('utf8'));
  check(json.schemaVersion === 2, () => `${where}: schemaVersion ${json.schemaVersion}`);
  if (json.mediaType !== undefined) {
    check(
      json.mediaType === mediaType,
      () => `${where}: mediaType field ${json.mediaType}, expected ${mediaType}`,
    );
  }
  if (isList(mediaType)) {
    const entries = json.manifests as Descriptor[];
    check(Array.isArray(entries) && entries.length > 0, () => `${where}: no manifests`);
    const images: ImageSummary[] = [];
    for (const entry of entries) {
      check(
        IMAGE_TYPES.includes(entry.mediaType),
        () => `${where}: nested ${entry.mediaType} not supported here`,
      );
      images.push({ ...(await summarizeImage(store, entry)), platform: entry.platform });
    }
    return { digest, mediaType, size: raw.length, images, isList: true };
  }
  const image = await imageFromManifest(store, { digest, mediaType, size: raw.length }, json);
  return { digest, mediaType, size: raw.length, images: [image], isList: false };
}

async function summarizeImage(store: ContentStore, desc: Descriptor): Promise<ImageSummary> {
  const raw = await store.manifest(desc.digest, desc.mediaType);
  const where = `${store.label} manifest ${desc.digest}`;
  check(sha256(raw) === desc.digest, () => `${where}: content hashes to ${sha256(raw)}`);
  check(raw.length === desc.size, () => `${where}: ${raw.length} bytes, descriptor says ${desc.size}`);
  const json = JSON.parse(raw.toString('utf8'));
  if (json.mediaType !== undefined) {
    check(
      json.mediaType === desc.mediaType,
      () => `${where}: mediaType ${json.mediaType}, index says ${desc.mediaType}`,
    );
  }
  return imageFromManifest(store, desc, json);
}

async function imageFromManifest(
  store: ContentStore,
  desc: Pick<Descriptor, 'digest' | 'mediaType' | 'size'>,
  json: { config: Descriptor; layers: Descriptor[] },
): Promise<ImageSummary> {
  const where = `${store.label} image ${desc.digest}`;
  check(json.config && Array.isArray(json.layers), () => `${where}: not an image manifest`);
  const configRaw = await readBlob(store, json.config);
  const config = JSON.parse(configRaw.toString('utf8'));
  for (const layer of json.layers) await readBlob(store, layer);
  const diffIds: string[] = config.rootfs?.diff_ids ?? [];
  check(
    diffIds.length === json.layers.length,
    () => `${where}: ${diffIds.length} diff_ids for ${json.layers.length} layers`,
  );
  return {
    digest: desc.digest,
    mediaType: desc.mediaType,
    size: desc.size,
    config: pickDescriptor(json.config),
    layers: json.layers.map(pickDescriptor),
    diffIds,
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
}

function pickDescriptor(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

async function readBlob(store: ContentStore, desc: Descriptor): Promise<Buffer> {
  const data = await store.blob(desc.digest);
  const where = `${store.label} blob ${desc.digest}`;
  check(sha256(data) === desc.digest, () => `${where}: content hashes to ${sha256(data)}`);
  check(data.length === desc.size, () => `${where}: ${data.length} bytes, descriptor says ${desc.size}`);
  return data;
}

// ---- the registry, over HTTP ---------------------------------------------------------------------

export class RegistryContent implements ContentStore {
  readonly label: string;

  constructor(
    private readonly baseUrl: string,
    readonly repository: string,
  ) {
    this.label = `registry ${repository}`;
  }

  url(kind: 'manifests' | 'blobs', reference: string): string {
    return `${this.baseUrl}/v2/${this.repository}/${kind}/${reference}`;
  }

  /** HEAD of a manifest with exactly `accept`; returns status and the headers tests care about. */
  async headManifest(reference: string, accept: string) {
    const res = await fetch(this.url('manifests', reference), {
      method: 'HEAD',
      headers: { Accept: accept },
    });
    return {
      status: res.status,
      digest: res.headers.get('docker-content-digest'),
      contentType: res.headers.get('content-type'),
      contentLength: res.headers.get('content-length'),
    };
  }

  async getManifest(reference: string, accept: string | string[]) {
    const res = await fetch(this.url('manifests', reference), {
      headers: { Accept: Array.isArray(accept) ? accept.join(', ') : accept },
    });
    const body = Buffer.from(await res.arrayBuffer());
    return {
      status: res.status,
      digest: res.headers.get('docker-content-digest'),
      contentType: res.headers.get('content-type'),
      body,
    };
  }

  async manifest(digest: string, mediaType: string): Promise<Buffer> {
    const res = await this.getManifest(digest, ALL_MANIFEST_TYPES);
    const where = `GET ${this.url('manifests', digest)}`;
    check(
      res.status === 200,
      () => `${where}: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 500)}`,
    );
    check(res.digest === digest, () => `${where}: Docker-Content-Digest ${res.digest}`);
    check(
      res.contentType === mediaType,
      () => `${where}: Content-Type ${res.contentType}, expected ${mediaType}`,
    );
    return res.body;
  }

  async blob(digest: string): Promise<Buffer> {
    const url = this.url('blobs', digest);
    const head = await fetch(url, { method: 'HEAD' });
    check(head.status === 200, () => `HEAD ${url}: HTTP ${head.status}`);
    const headDigest = head.headers.get('docker-content-digest');
    check(headDigest === digest, () => `HEAD ${url}: Docker-Content-Digest ${headDigest}`);
    const res = await fetch(url);
    const body = Buffer.from(await res.arrayBuffer());
    check(res.status === 200, () => `GET ${url}: HTTP ${res.status} ${body.toString('utf8').slice(0, 500)}`);
    check(
      head.headers.get('content-length') === String(body.length),
      () => `HEAD ${url}: Content-Length ${head.headers.get('content-length')}, GET got ${body.length} bytes`,
    );
    return body;
  }
}

// ---- local copies written by skopeo --------------------------------------------------------------

/** An OCI image layout directory (skopeo copy … oci:<dir>:<tag>). */
export class OciLayoutContent implements ContentStore {
  readonly label: string;

  constructor(readonly dir: string) {
    this.label = `oci-layout ${dir}`;
  }

  private blobPath(digest: string): string {
    const [algorithm, hex] = digest.split(':');
    return path.join(this.dir, 'blobs', algorithm, hex);
  }

  manifest(digest: string): Promise<Buffer> {
    return fs.readFile(this.blobPath(digest));
  }

  blob(digest: string): Promise<Buffer> {
    return fs.readFile(this.blobPath(digest));
  }

  /** The descriptor index.json holds for `tag` (org.opencontainers.image.ref.name). */
  async indexEntry(tag: string): Promise<Descriptor> {
    const index = JSON.parse(await fs.readFile(path.join(this.dir, 'index.json'), 'utf8'));
    const entry = (index.manifests as Descriptor[]).find(
      (m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag,
    );
    check(entry, () => `${this.label}: no index.json entry for tag ${tag}: ${JSON.stringify(index)}`);
    return entry;
  }
}

/** A containers/image `dir:` directory (manifest.json, <hex>.manifest.json for instances, <hex> blobs). */
export class DirContent implements ContentStore {
  readonly label: string;

  constructor(readonly dir: string) {
    this.label = `dir ${dir}`;
  }

  async topManifest(): Promise<Buffer> {
    return fs.readFile(path.join(this.dir, 'manifest.json'));
  }

  async manifest(digest: string): Promise<Buffer> {
    const top = await this.topManifest();
    if (sha256(top) === digest) return top;
    return fs.readFile(path.join(this.dir, `${digest.split(':')[1]}.manifest.json`));
  }

  blob(digest: string): Promise<Buffer> {
    return fs.readFile(path.join(this.dir, digest.split(':')[1]));
  }
}
