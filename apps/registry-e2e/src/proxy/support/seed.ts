/**
 * Seed content for the upstreams, pushed over plain HTTP (monolithic blob uploads, manifests by tag
 * or digest): single images, multi-arch indexes and OCI artifacts, each with fresh random bytes so
 * no test finds another's content already cached.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FixtureSet } from '../../real-clients/fixtures';
import type { ClientSandbox } from '../../real-clients/tools';
import type { Upstream } from './upstreams';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Every manifest type, as a client that takes anything sends it. */
export const ACCEPT_ALL = [MT.ociIndex, MT.dockerList, MT.ociManifest, MT.dockerManifest].join(', ');

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface Manifest {
  digest: string;
  mediaType: string;
  body: Buffer;
}

export interface Image extends Manifest {
  config: Buffer;
  layers: Buffer[];
  /** config and layers by digest */
  blobs: Map<string, Buffer>;
}

export interface Index extends Manifest {
  images: Image[];
}

function manifest(mediaType: string, doc: object): Manifest {
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, ...doc }));
  return { digest: sha256(body), mediaType, body };
}

/** An image whose layers are random bytes of the given sizes. */
export function makeImage(
  opts: {
    format?: 'oci' | 'docker';
    layerSizes?: number[];
    /** layers in front of the random ones (shared between images) */
    shared?: Buffer[];
    arch?: string;
    variant?: string;
  } = {},
): Image {
  const format = opts.format ?? 'oci';
  const layers = [...(opts.shared ?? []), ...(opts.layerSizes ?? [4096]).map((n) => randomBytes(n))];
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.arch ?? 'amd64',
      os: 'linux',
      ...(opts.variant ? { variant: opts.variant } : {}),
      rootfs: { type: 'layers', diff_ids: layers.map(sha256) },
      history: [{ comment: randomBytes(8).toString('hex') }],
    }),
  );
  const m = manifest(format === 'oci' ? MT.ociManifest : MT.dockerManifest, {
    config: {
      mediaType: format === 'oci' ? MT.ociConfig : MT.dockerConfig,
      digest: sha256(config),
      size: config.length,
    },
    layers: layers.map((l) => ({
      mediaType: format === 'oci' ? MT.ociLayer : MT.dockerLayer,
      digest: sha256(l),
      size: l.length,
    })),
  });
  const blobs = new Map<string, Buffer>([[sha256(config), config]]);
  for (const l of layers) blobs.set(sha256(l), l);
  return { ...m, config, layers, blobs };
}

export const INDEX_PLATFORMS = [
  { architecture: 'amd64', os: 'linux' },
  { architecture: 'arm64', os: 'linux', variant: 'v8' },
];

/** A multi-arch index (or Docker list) over fresh images; the first layer is shared by all. */
export function makeIndex(format: 'oci' | 'docker' = 'oci'): Index {
  const shared = randomBytes(2048);
  const images = INDEX_PLATFORMS.map((p) =>
    makeImage({ format, shared: [shared], layerSizes: [1024], arch: p.architecture, variant: p.variant }),
  );
  const m = manifest(format === 'oci' ? MT.ociIndex : MT.dockerList, {
    manifests: images.map((img, i) => ({
      mediaType: img.mediaType,
      digest: img.digest,
      size: img.body.length,
      platform: INDEX_PLATFORMS[i],
    })),
  });
  return { ...m, images };
}

/** An OCI artifact: artifactType, the empty config, one non-image layer, annotations. */
export function makeArtifact(): Image {
  const empty = Buffer.from('{}');
  const payload = Buffer.from(JSON.stringify({ sbom: randomBytes(16).toString('hex') }));
  const m = manifest(MT.ociManifest, {
    artifactType: 'application/vnd.example.sbom.v1',
    config: { mediaType: MT.ociEmpty, digest: sha256(empty), size: empty.length },
    layers: [
      { mediaType: 'application/vnd.example.sbom.v1+json', digest: sha256(payload), size: payload.length },
    ],
    annotations: { 'org.example.kind': 'sbom' },
  });
  return {
    ...m,
    config: empty,
    layers: [payload],
    blobs: new Map([
      [sha256(empty), empty],
      [sha256(payload), payload],
    ]),
  };
}

/** Where plain HTTP pushes go: an upstream, or Wharf itself (kind is only for messages). */
export type PushTarget = Pick<Upstream, 'url' | 'pushHeaders'> & { kind: string };

/** POST (empty) then PUT with the bytes: the one upload flow every registry has. */
export async function pushBlob(up: PushTarget, repo: string, data: Buffer): Promise<void> {
  const headers = await up.pushHeaders(repo);
  const r = await fetch(`${up.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  const text = await r.text();
  if (r.status !== 202) throw new Error(`blob POST ${up.kind} ${repo}: ${r.status} ${text}`);
  const location = new URL(r.headers.get('location')!, up.url);
  location.searchParams.set('digest', sha256(data));
  const put = await fetch(location, {
    method: 'PUT',
    headers: { ...headers, 'Content-Type': 'application/octet-stream' },
    body: data,
  });
  const putText = await put.text();
  if (put.status !== 201) throw new Error(`blob PUT ${up.kind} ${repo}: ${put.status} ${putText}`);
}

export async function pushManifest(up: PushTarget, repo: string, ref: string, m: Manifest): Promise<void> {
  const r = await fetch(`${up.url}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    headers: { ...(await up.pushHeaders(repo)), 'Content-Type': m.mediaType },
    body: m.body,
  });
  const text = await r.text();
  if (r.status !== 201) throw new Error(`manifest PUT ${up.kind} ${repo}:${ref}: ${r.status} ${text}`);
}

/** Blobs, then the manifest under `tag` (and by digest when no tag is given). */
export async function seedImage(
  up: PushTarget,
  repo: string,
  tag: string | undefined,
  img: Image,
): Promise<void> {
  for (const blob of img.blobs.values()) await pushBlob(up, repo, blob);
  await pushManifest(up, repo, tag ?? img.digest, img);
}

export async function seedIndex(up: PushTarget, repo: string, tag: string, index: Index): Promise<void> {
  for (const img of index.images) await seedImage(up, repo, undefined, img);
  await pushManifest(up, repo, tag, index);
}

/**
 * Pushes every kind of a real-clients fixture set (real tar+gzip layers, so podman and ctr can
 * unpack them) with skopeo: `<prefix>/docker`, `/oci`, `/oci-index`, `/docker-list`, tag `v1`.
 */
export async function seedFixtureSet(
  sb: ClientSandbox,
  up: Upstream,
  prefix: string,
  set: FixtureSet,
): Promise<void> {
  for (const [kind, source] of Object.entries(set.sources)) {
    await sb.skopeo([
      'copy',
      '--quiet',
      '--retry-times',
      '0',
      '--all',
      '--preserve-digests',
      '--dest-tls-verify=false',
      '--dest-creds',
      `${up.seeder.user}:${up.seeder.password}`,
      source,
      `docker://${up.host}/${prefix}/${kind}:v1`,
    ]);
  }
}
