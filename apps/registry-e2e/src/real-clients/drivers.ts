/**
 * One driver per client: how skopeo, podman and buildah push each kind of artifact and pull it back,
 * and what each pull can tell us about the pulled content.
 */
import { ArtifactSummary, DirContent, ImageSummary, OciLayoutContent, sha256, summarize } from './content';
import { builtImages, createManifestList, FixtureSet } from './fixtures';
import { KindInfo } from './kinds';
import { ClientSandbox, Platform, RealClient, Store } from './tools';

export interface PullRequest {
  /** host/repository:tag or host/repository@digest (no transport prefix). */
  ref: string;
  /** What the registry serves under ref (from verifyServed). */
  expected: ArtifactSummary;
  info: KindInfo;
  /** For repository-digest assertions: host/repository. */
  repository: string;
}

export interface ClientDriver {
  tool: RealClient;
  /** The push must not change a byte of the locally built manifests. */
  exactPush: boolean;
  /** Pushes the artifact of `info.kind` from `set` to docker://<dest>; returns the --digestfile digest. */
  push(set: FixtureSet, info: KindInfo, dest: string): Promise<string>;
  /** Pulls req.ref into a fresh place and asserts it is the expected content. */
  pullAndCheck(req: PullRequest): Promise<void>;
}

function storeOf(set: FixtureSet): Store {
  if (!set.store) throw new Error('this fixture set was not copied into a containers-storage');
  return set.store;
}

function single(set: FixtureSet, info: KindInfo) {
  if (info.isList) throw new Error(`${info.kind} is a list`);
  return builtImages(set, info.kind)[0];
}

/** The platforms podman/buildah pull from a list: the host default (amd64 here) and a foreign one. */
function pullPlatforms(expected: ArtifactSummary): { platform?: Platform; image: ImageSummary }[] {
  const host = expected.images.find((img) => img.platform?.architecture === nodeArchToOci(process.arch));
  const foreign = expected.images.find((img) => img !== host && img.platform);
  const result: { platform?: Platform; image: ImageSummary }[] = [];
  if (host) result.push({ image: host });
  if (foreign) result.push({ platform: foreign.platform, image: foreign });
  if (!result.length) throw new Error('no instance to pull');
  return result;
}

function nodeArchToOci(arch: string): string {
  return (
    (
      { x64: 'amd64', arm64: 'arm64', arm: 'arm', s390x: 's390x', ppc64: 'ppc64le' } as Record<string, string>
    )[arch] ?? arch
  );
}

let listCounter = 0;

// ---- skopeo --------------------------------------------------------------------------------------

export function skopeoDriver(sb: ClientSandbox): ClientDriver {
  return {
    tool: 'skopeo',
    exactPush: true,

    async push(set, info, dest) {
      // Straight from the hand-written oci-layout / dir: (layers already gzip-compressed there), so
      // nothing may change: --preserve-digests makes skopeo fail instead of converting.
      return sb.skopeoCopy(set.sources[info.kind], `docker://${dest}`, {
        all: info.isList,
        preserveDigests: true,
      });
    },

    async pullAndCheck({ ref, expected, info }) {
      // Docker manifests/lists go to dir: (an oci-layout would force a conversion to OCI), OCI ones to
      // an oci-layout. --preserve-digests makes skopeo fail rather than convert anything.
      const dir = await sb.newDir('skopeo-pull');
      const docker = info.format === 'v2s2';
      const dest = docker ? `dir:${dir}` : `oci:${dir}:pulled`;
      const digest = await sb.skopeoCopy(`docker://${ref}`, dest, {
        all: info.isList,
        preserveDigests: true,
      });
      expect(digest).toBe(expected.digest);
      let local: ArtifactSummary;
      if (docker) {
        const content = new DirContent(dir);
        expect(sha256(await content.topManifest())).toBe(expected.digest);
        local = await summarize(content, expected.digest, expected.mediaType);
      } else {
        const content = new OciLayoutContent(dir);
        const entry = await content.indexEntry('pulled');
        expect({ digest: entry.digest, mediaType: entry.mediaType, size: entry.size }).toEqual({
          digest: expected.digest,
          mediaType: expected.mediaType,
          size: expected.size,
        });
        local = await summarize(content, entry.digest, entry.mediaType, entry.size);
      }
      expect(local).toEqual(expected);
    },
  };
}

// ---- podman --------------------------------------------------------------------------------------

export function podmanDriver(sb: ClientSandbox): ClientDriver {
  return {
    tool: 'podman',
    exactPush: false,

    async push(set, info, dest) {
      if (!info.isList)
        return sb.podmanPush(storeOf(set), single(set, info).name, `docker://${dest}`, info.format);
      const list = `localhost/wharf-e2e/podman-list-${++listCounter}`;
      await createManifestList(sb, 'podman', storeOf(set), list, builtImages(set, info.kind));
      return sb.podmanManifestPush(storeOf(set), list, `docker://${dest}`, info.format);
    },

    async pullAndCheck({ ref, expected, repository }) {
      const targets = expected.isList
        ? pullPlatforms(expected)
        : [{ platform: undefined, image: expected.images[0] }];
      for (const { platform, image } of targets) {
        const store = await sb.newStore('podman-pull');
        const id = await sb.podmanPull(store, ref, platform);
        const inspect = await sb.podmanImageInspect(store, id);
        expect({
          id: `sha256:${inspect.Id}`,
          layers: inspect.RootFS.Layers,
          manifestType: inspect.ManifestType,
          os: inspect.Os,
          architecture: inspect.Architecture,
        }).toEqual({
          id: image.config.digest,
          layers: image.diffIds,
          manifestType: image.mediaType,
          os: image.os,
          architecture: image.architecture,
        });
        // podman records the digest it pulled by (for a list: the list's), and the image's own one.
        expect(inspect.RepoDigests).toEqual(expect.arrayContaining([`${repository}@${image.digest}`]));
        expect(inspect.RepoDigests).toEqual(expect.arrayContaining([`${repository}@${expected.digest}`]));
        expect(inspect.Digest).toBe(expected.digest);
      }
    },
  };
}

// ---- buildah -------------------------------------------------------------------------------------

export function buildahDriver(sb: ClientSandbox): ClientDriver {
  return {
    tool: 'buildah',
    exactPush: false,

    async push(set, info, dest) {
      if (!info.isList)
        return sb.buildahPush(storeOf(set), single(set, info).name, `docker://${dest}`, info.format);
      const list = `localhost/wharf-e2e/buildah-list-${++listCounter}`;
      await createManifestList(sb, 'buildah', storeOf(set), list, builtImages(set, info.kind));
      return sb.buildahManifestPush(storeOf(set), list, `docker://${dest}`, info.format);
    },

    async pullAndCheck({ ref, expected }) {
      const targets = expected.isList
        ? pullPlatforms(expected)
        : [{ platform: undefined, image: expected.images[0] }];
      for (const { platform, image } of targets) {
        const store: Store = await sb.newStore('buildah-pull');
        const id = await sb.buildahPull(store, `docker://${ref}`, platform);
        const inspect = await sb.buildahImageInspect(store, id);
        // buildah keeps the pulled manifest and config byte for byte.
        expect({
          digest: inspect.FromImageDigest,
          manifestDigest: sha256(inspect.Manifest),
          configDigest: sha256(inspect.Config),
          id: `sha256:${inspect.FromImageID}`,
          diffIds: inspect.OCIv1.rootfs.diff_ids,
          os: inspect.OCIv1.os,
          architecture: inspect.OCIv1.architecture,
        }).toEqual({
          digest: image.digest,
          manifestDigest: image.digest,
          configDigest: image.config.digest,
          id: image.config.digest,
          diffIds: image.diffIds,
          os: image.os,
          architecture: image.architecture,
        });
      }
    },
  };
}
