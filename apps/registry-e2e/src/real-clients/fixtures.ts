/**
 * Test images, written by hand (tar + gzip + JSON) into local layouts: an OCI image layout for the
 * OCI image and index, containers/image `dir:` directories for the Docker schema2 image and manifest
 * list. skopeo pushes straight from these layouts; for podman and buildah the single images are
 * copied into a containers/storage (`skopeo copy … containers-storage:`) and pushed from there, the
 * lists are assembled with `podman|buildah manifest create/add`.
 *
 * Why not `buildah from scratch` + `buildah copy` + `buildah commit` per layer: that works (every
 * layer needs its own from/copy/commit, committing one container repeatedly does not stack
 * layers) but costs ~0.3–0.9 s per step on vfs, ~12 s per image set; this costs well under 1 s.
 * `buildah build --platform a,b,c --manifest` is no faster, and 1.28 leaks the variant of one
 * platform into the others (linux/amd64 came out as amd64/v7).
 *
 * Layer content is random bytes generated per run and per set, so every run — and every client
 * within a run — pushes blobs the registry has never seen (see the blob-info cache note in
 * tools.ts).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Descriptor, MediaTypes, sha256 } from './content';
import { Kind } from './kinds';
import { ClientSandbox, Platform, Store } from './tools';

export interface BuiltImage {
  /** Name in the set's store, e.g. localhost/wharf-e2e/podman-1a2b3c4d-docker:latest */
  name: string;
  /** Digest of the hand-written manifest (what skopeo pushes, byte for byte). */
  manifestDigest: string;
  mediaType: string;
  /** Config digest; pushes that keep the format keep the config byte for byte. */
  configDigest: string;
  /** Uncompressed layer digests (rootfs.diff_ids), bottom first. */
  diffIds: string[];
  platform: Platform;
}

export interface BuiltList {
  digest: string;
  mediaType: string;
  instances: BuiltImage[];
}

export interface FixtureSet {
  /** Where podman/buildah find the single images (not set for skopeo-only sets). */
  store?: Store;
  /** Docker schema2 image with three layers (one of 3 MiB). */
  docker: BuiltImage;
  /** OCI image with three layers. */
  oci: BuiltImage;
  /** OCI image index: linux/amd64, linux/arm64/v8, linux/arm/v7 (2 layers each, the first shared). */
  ociIndex: BuiltList;
  /** Docker manifest list: linux/amd64, linux/arm64 (2 layers each, the first shared). */
  dockerList: BuiltList;
  /** skopeo source reference (oci:<dir>:<tag> or dir:<dir>) of each kind. */
  sources: Record<Kind, string>;
}

export const OCI_INDEX_PLATFORMS: Platform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
];
export const DOCKER_LIST_PLATFORMS: Platform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
];

const LAYER_GZIP = {
  docker: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  oci: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

// ---- tar -----------------------------------------------------------------------------------------

function tarHeader(name: string, size: number, type: '0' | '5', mode: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (value: string, offset: number, length: number) => h.write(value, offset, length, 'utf8');
  const octal = (value: number, offset: number, length: number) =>
    put(value.toString(8).padStart(length - 1, '0') + '\0', offset, length);
  if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long: ${name}`);
  put(name, 0, 100);
  octal(mode, 100, 8);
  octal(0, 108, 8); // uid
  octal(0, 116, 8); // gid
  octal(size, 124, 12);
  octal(1_700_000_000, 136, 12); // mtime
  put('        ', 148, 8); // checksum placeholder
  put(type, 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put('root', 265, 32);
  put('root', 297, 32);
  let sum = 0;
  for (const byte of h) sum += byte;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** A ustar archive: the files (path -> content) and all their parent directories. */
function tar(files: Record<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  const dirs = new Set<string>();
  for (const [file, content] of Object.entries(files)) {
    const segments = file.replace(/^\/+/, '').split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/') + '/';
      if (!dirs.has(dir)) {
        dirs.add(dir);
        parts.push(tarHeader(dir, 0, '5', 0o755));
      }
    }
    parts.push(tarHeader(segments.join('/'), content.length, '0', 0o644), content);
    const pad = (512 - (content.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

// ---- writing layouts -----------------------------------------------------------------------------

interface Layer {
  descriptor: Descriptor;
  diffId: string;
  gz: Buffer;
}

function makeLayer(format: 'docker' | 'oci', files: Record<string, Buffer>): Layer {
  const raw = tar(files);
  const gz = gzipSync(raw);
  return {
    descriptor: { mediaType: LAYER_GZIP[format], digest: sha256(gz), size: gz.length },
    diffId: sha256(raw),
    gz,
  };
}

interface WrittenImage {
  manifest: Buffer;
  descriptor: Descriptor;
  configDigest: string;
  diffIds: string[];
  blobs: Map<string, Buffer>;
}

function makeImage(
  format: 'docker' | 'oci',
  layers: Layer[],
  platform: Platform,
  label: string,
): WrittenImage {
  const diffIds = layers.map((l) => l.diffId);
  const config = Buffer.from(
    JSON.stringify({
      created: new Date().toISOString(),
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Env: ['WHARF_E2E=1'], Cmd: ['/bin/true'], Labels: { 'org.example.wharf-e2e': label } },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: layers.map((_, i) => ({
        created: new Date().toISOString(),
        created_by: `wharf-e2e layer ${i}`,
      })),
    }),
  );
  const configDescriptor: Descriptor = {
    mediaType: format === 'oci' ? MediaTypes.ociConfig : MediaTypes.dockerConfig,
    digest: sha256(config),
    size: config.length,
  };
  const mediaType = format === 'oci' ? MediaTypes.ociManifest : MediaTypes.dockerManifest;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: configDescriptor,
      layers: layers.map((l) => l.descriptor),
    }),
  );
  const blobs = new Map<string, Buffer>([[configDescriptor.digest, config]]);
  for (const l of layers) blobs.set(l.descriptor.digest, l.gz);
  return {
    manifest,
    descriptor: { mediaType, digest: sha256(manifest), size: manifest.length },
    configDigest: configDescriptor.digest,
    diffIds,
    blobs,
  };
}

function makeList(format: 'docker' | 'oci', images: { image: WrittenImage; platform: Platform }[]) {
  const mediaType = format === 'oci' ? MediaTypes.ociIndex : MediaTypes.dockerList;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: images.map(({ image, platform }) => ({ ...image.descriptor, platform })),
    }),
  );
  return { manifest, descriptor: { mediaType, digest: sha256(manifest), size: manifest.length } };
}

class OciLayoutWriter {
  private readonly entries: Descriptor[] = [];

  constructor(readonly dir: string) {}

  async blob(digest: string, data: Buffer): Promise<void> {
    const file = path.join(this.dir, 'blobs', 'sha256', digest.split(':')[1]);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, data);
  }

  async image(image: WrittenImage, tag?: string): Promise<void> {
    for (const [digest, data] of image.blobs) await this.blob(digest, data);
    await this.blob(image.descriptor.digest, image.manifest);
    if (tag) this.tag(image.descriptor, tag);
  }

  tag(descriptor: Descriptor, tag: string): void {
    this.entries.push({ ...descriptor, annotations: { 'org.opencontainers.image.ref.name': tag } });
  }

  async finish(): Promise<void> {
    await fs.writeFile(path.join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await fs.writeFile(
      path.join(this.dir, 'index.json'),
      JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: this.entries }),
    );
  }
}

/** A containers/image dir: directory with one image, or a list (instances as <hex>.manifest.json). */
async function writeDir(dir: string, top: Buffer, images: WrittenImage[], topIsList: boolean): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'version'), 'Directory Transport Version: 1.1\n');
  await fs.writeFile(path.join(dir, 'manifest.json'), top);
  for (const image of images) {
    for (const [digest, data] of image.blobs) await fs.writeFile(path.join(dir, digest.split(':')[1]), data);
    if (topIsList) {
      await fs.writeFile(
        path.join(dir, `${image.descriptor.digest.split(':')[1]}.manifest.json`),
        image.manifest,
      );
    }
  }
}

// ---- the fixture set -----------------------------------------------------------------------------

const MiB = 1024 * 1024;

function threeLayers(format: 'docker' | 'oci'): Layer[] {
  return [
    makeLayer(format, {
      [`data/${format}/big.bin`]: randomBytes(3 * MiB),
      [`data/${format}/small.txt`]: randomBytes(100),
    }),
    makeLayer(format, { [`data/${format}/mid.bin`]: randomBytes(256 * 1024) }),
    makeLayer(format, { [`etc/wharf-e2e-${format}.conf`]: randomBytes(512) }),
  ];
}

/**
 * Writes the layouts of a fresh image set under the sandbox and, unless `store` is undefined (the
 * set is only pushed by skopeo), copies its single images into `store` as
 * `localhost/wharf-e2e/<prefix>-<kind|arch>:latest`.
 */
export async function buildFixtureSet(
  sb: ClientSandbox,
  store: Store | undefined,
  prefix: string,
): Promise<FixtureSet> {
  const root = await sb.newDir(`fixtures-${prefix}`);
  const name = (suffix: string) => `localhost/wharf-e2e/${prefix}-${suffix}:latest`;
  const amd64: Platform = { os: 'linux', architecture: 'amd64' };
  const imports: { source: string; name: string }[] = [];
  const built = (image: WrittenImage, imageName: string, platform: Platform, source: string): BuiltImage => {
    imports.push({ source, name: imageName });
    return {
      name: imageName,
      manifestDigest: image.descriptor.digest,
      mediaType: image.descriptor.mediaType,
      configDigest: image.configDigest,
      diffIds: image.diffIds,
      platform,
    };
  };

  // OCI image and index in one oci-layout, every manifest tagged so it can be copied by itself.
  const layoutDir = path.join(root, 'oci-layout');
  const layout = new OciLayoutWriter(layoutDir);
  const ociImage = makeImage('oci', threeLayers('oci'), amd64, `${prefix}-oci`);
  await layout.image(ociImage, 'oci');
  const sharedOci = makeLayer('oci', { 'data/index/shared.bin': randomBytes(512 * 1024) });
  const ociInstances: BuiltImage[] = [];
  const ociWritten: { image: WrittenImage; platform: Platform }[] = [];
  for (const platform of OCI_INDEX_PLATFORMS) {
    const arch = [platform.architecture, platform.variant].filter(Boolean).join('-');
    const layer = makeLayer('oci', { [`data/index/${arch}.bin`]: randomBytes(64 * 1024) });
    const image = makeImage('oci', [sharedOci, layer], platform, `${prefix}-oci-${arch}`);
    await layout.image(image, `oci-${arch}`);
    ociWritten.push({ image, platform });
    ociInstances.push(built(image, name(`oci-${arch}`), platform, `oci:${layoutDir}:oci-${arch}`));
  }
  const ociIndex = makeList('oci', ociWritten);
  await layout.blob(ociIndex.descriptor.digest, ociIndex.manifest);
  layout.tag(ociIndex.descriptor, 'oci-index');
  await layout.finish();

  // Docker image and list: one dir: each (a dir: holds one artifact), plus one per list instance.
  const dockerImage = makeImage('docker', threeLayers('docker'), amd64, `${prefix}-docker`);
  await writeDir(path.join(root, 'docker'), dockerImage.manifest, [dockerImage], false);
  const sharedDocker = makeLayer('docker', { 'data/list/shared.bin': randomBytes(512 * 1024) });
  const dockerInstances: BuiltImage[] = [];
  const dockerWritten: { image: WrittenImage; platform: Platform }[] = [];
  for (const platform of DOCKER_LIST_PLATFORMS) {
    const arch = platform.architecture;
    const layer = makeLayer('docker', { [`data/list/${arch}.bin`]: randomBytes(64 * 1024) });
    const image = makeImage('docker', [sharedDocker, layer], platform, `${prefix}-docker-${arch}`);
    const dir = path.join(root, `docker-${arch}`);
    await writeDir(dir, image.manifest, [image], false);
    dockerWritten.push({ image, platform });
    dockerInstances.push(built(image, name(`docker-${arch}`), platform, `dir:${dir}`));
  }
  const dockerList = makeList('docker', dockerWritten);
  await writeDir(
    path.join(root, 'docker-list'),
    dockerList.manifest,
    dockerWritten.map((w) => w.image),
    true,
  );

  const set: FixtureSet = {
    store,
    docker: built(dockerImage, name('docker'), amd64, `dir:${path.join(root, 'docker')}`),
    oci: built(ociImage, name('oci'), amd64, `oci:${layoutDir}:oci`),
    ociIndex: { ...ociIndex.descriptor, instances: ociInstances },
    dockerList: { ...dockerList.descriptor, instances: dockerInstances },
    sources: {
      docker: `dir:${path.join(root, 'docker')}`,
      oci: `oci:${layoutDir}:oci`,
      'oci-index': `oci:${layoutDir}:oci-index`,
      'docker-list': `dir:${path.join(root, 'docker-list')}`,
    },
  };

  // Into containers-storage for podman/buildah. The storage keeps the manifest as written but the
  // layers uncompressed; podman/buildah compress again when pushing.
  for (const { source, name: imageName } of store ? imports : []) {
    await sb.skopeo(['copy', '--quiet', source, sb.storageRef(store!, imageName)]);
  }
  return set;
}

export function builtImages(set: FixtureSet, kind: Kind): BuiltImage[] {
  switch (kind) {
    case 'docker':
      return [set.docker];
    case 'oci':
      return [set.oci];
    case 'oci-index':
      return set.ociIndex.instances;
    case 'docker-list':
      return set.dockerList.instances;
  }
}

/** Creates a manifest list in `store` with the given client, from images already in that store. */
export async function createManifestList(
  sb: ClientSandbox,
  tool: 'buildah' | 'podman',
  store: Store,
  name: string,
  images: BuiltImage[],
): Promise<void> {
  const cli = (args: string[]) => (tool === 'buildah' ? sb.buildah(store, args) : sb.podman(store, args));
  await cli(['manifest', 'create', name]);
  // An explicit containers-storage: reference: a bare name would be looked up as docker://.
  for (const img of images) await cli(['manifest', 'add', name, `containers-storage:${img.name}`]);
}
