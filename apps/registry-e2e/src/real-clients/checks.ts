/**
 * Assertions shared by the real-client tests: what the registry serves after a push, and whether
 * that is what was built locally.
 */
import { ArtifactSummary, MediaTypes, RegistryContent, sha256, summarize } from './content';
import { builtImages, FixtureSet } from './fixtures';
import { KindInfo } from './kinds';
import { ClientSandbox } from './tools';

const LAYER_TYPE: Record<'v2s2' | 'oci', string> = {
  v2s2: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  oci: 'application/vnd.oci.image.layer.v1.tar+gzip',
};
const CONFIG_TYPE: Record<'v2s2' | 'oci', string> = {
  v2s2: MediaTypes.dockerConfig,
  oci: MediaTypes.ociConfig,
};

export interface PushedRef {
  repository: string;
  tag: string;
  digest: string;
}

/**
 * After a push of `ref.digest` to `repository:tag`: every way of asking the registry for the
 * manifest agrees on its digest, and every manifest/blob it references is there and intact.
 */
export async function verifyServed(
  sb: ClientSandbox,
  registry: { url: string; host: string },
  ref: PushedRef,
  info: KindInfo,
): Promise<ArtifactSummary> {
  const content = new RegistryContent(registry.url, ref.repository);

  // What a client sees: skopeo inspect --raw hashes to the digest the pushing client reported.
  const raw = await sb.skopeoInspectRaw(`docker://${registry.host}/${ref.repository}:${ref.tag}`);
  expect(sha256(raw)).toBe(ref.digest);

  // HEAD by tag and by digest with exactly the right Accept.
  for (const reference of [ref.tag, ref.digest]) {
    const head = await content.headManifest(reference, info.mediaType);
    expect({ reference, ...head }).toEqual({
      reference,
      status: 200,
      digest: ref.digest,
      contentType: info.mediaType,
      contentLength: String(raw.length),
    });
  }

  // GET by tag returns the very bytes skopeo saw.
  const byTag = await content.getManifest(ref.tag, info.mediaType);
  expect(byTag.status).toBe(200);
  expect(byTag.digest).toBe(ref.digest);
  expect(byTag.body.equals(raw)).toBe(true);

  const summary = await summarize(content, ref.digest, info.mediaType);
  // Instances of an index are addressable with their own media type too.
  for (const image of summary.isList ? summary.images : []) {
    const head = await content.headManifest(image.digest, image.mediaType);
    expect(head).toMatchObject({ status: 200, digest: image.digest, contentType: image.mediaType });
  }
  return summary;
}

/**
 * The pushed artifact is the locally built one: same configs (so same diff_ids), platforms, format.
 * `exact`: also the very same manifests (a push that must not have changed a byte: skopeo from the
 * hand-written layouts with --preserve-digests).
 */
export function expectMatchesBuilt(
  summary: ArtifactSummary,
  info: KindInfo,
  set: FixtureSet,
  exact = false,
): void {
  expect(summary.mediaType).toBe(info.mediaType);
  expect(summary.isList).toBe(info.isList);
  const built = builtImages(set, info.kind);
  const imageType = info.format === 'oci' ? MediaTypes.ociManifest : MediaTypes.dockerManifest;
  expect(
    summary.images.map((img) => ({
      mediaType: img.mediaType,
      configType: img.config.mediaType,
      configDigest: img.config.digest,
      layerTypes: img.layers.map((l) => l.mediaType),
      diffIds: img.diffIds,
      platform: info.isList ? img.platform : undefined,
      os: img.os,
      architecture: img.architecture,
      ...(exact ? { digest: img.digest } : {}),
    })),
  ).toEqual(
    built.map((b) => ({
      mediaType: imageType,
      configType: CONFIG_TYPE[info.format],
      configDigest: b.configDigest,
      layerTypes: b.diffIds.map(() => LAYER_TYPE[info.format]),
      diffIds: b.diffIds,
      platform: info.isList ? b.platform : undefined,
      os: b.platform.os,
      architecture: b.platform.architecture,
      ...(exact ? { digest: b.manifestDigest } : {}),
    })),
  );
  if (exact && info.isList) {
    expect(summary.digest).toBe(info.kind === 'oci-index' ? set.ociIndex.digest : set.dockerList.digest);
  }
  if (info.isList) {
    // The shared bottom layer is one blob in all instances.
    expect(new Set(summary.images.map((img) => img.layers[0].digest)).size).toBe(1);
  } else {
    expect(summary.images[0].layers).toHaveLength(3);
  }
}
