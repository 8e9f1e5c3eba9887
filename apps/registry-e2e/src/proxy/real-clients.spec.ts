/**
 * Pull-through cache with real clients, against Distribution 2.8 (htpasswd) seeded by skopeo with
 * the real-clients fixture sets (Docker and OCI images, OCI index, Docker list; real tar+gzip
 * layers): skopeo and podman pull by the prefix form, containerd (ctr) through a hosts.toml mirror,
 * which is the `?ns=` form. Each client gets its own fixture set, so its pulls are uncached.
 */
import { checkKind, expectedDigest } from './support/clients';
import { Containerd } from './support/containerd';
import { seedFixtureSet } from './support/seed';
import { D28_NS, startDistWorld, writesSeen, type DistWorld } from './support/setup';
import { UpstreamTap } from './support/upstream-tap';
import { buildFixtureSet, type FixtureSet } from '../real-clients/fixtures';
import { KINDS } from '../real-clients/kinds';
import { ClientSandbox, describeWithClients } from '../real-clients/tools';

describeWithClients(
  'proxy/real-clients.spec.ts',
  ['skopeo', 'podman', 'containerd', 'ctr', 'docker-registry'],
  {
    root: true,
  },
)('pull-through cache: real clients', () => {
  let w: DistWorld;
  let sb: ClientSandbox;
  const sets: Record<'skopeo' | 'podman' | 'ctr', FixtureSet> = {} as never;

  beforeAll(async () => {
    sb = await ClientSandbox.create('wharf-proxy-clients-');
    w = await startDistWorld();
    for (const client of ['skopeo', 'podman', 'ctr'] as const) {
      sets[client] = await buildFixtureSet(sb, undefined, `proxy-${client}`);
      await seedFixtureSet(sb, w.dist, client, sets[client]);
    }
  });

  afterEach(() => w.reset());

  afterAll(async () => {
    await w?.dispose();
    await sb?.dispose();
  });

  describe('skopeo (prefix form)', () => {
    it.each(KINDS.map((k) => [k.kind, k] as const))(
      '%s: inspect --raw, every manifest and blob intact, then copied byte for byte',
      async (_kind, info) => {
        await checkKind(sb, w.wharf, `d28/skopeo/${info.kind}`, info, sets.skopeo);
        // skopeo copy --all --preserve-digests from the cache into a directory: nothing changed (an OCI
        // layout could not hold a Docker list unconverted).
        const dir = await sb.newDir(`copy-${info.kind}`);
        const digest = await sb.skopeoCopy(
          `docker://${w.wharf.host}/d28/skopeo/${info.kind}:v1`,
          `dir:${dir}`,
          {
            all: true,
            preserveDigests: true,
          },
        );
        expect(digest).toBe(expectedDigest(sets.skopeo, info.kind));
        expect(writesSeen(w.tap)).toEqual([]);
      },
    );
  });

  describe('podman (prefix form)', () => {
    it('pulls a Docker image; a second store pulls it from the cache alone', async () => {
      const ref = `${w.wharf.host}/d28/podman/docker:v1`;
      const id = await sb.podmanPull(await sb.newStore('podman-docker'), ref);
      expect(`sha256:${id}`).toBe(sets.podman.docker.configDigest);
      w.tap.resetCounts();
      const again = await sb.podmanPull(await sb.newStore('podman-docker-2'), ref);
      expect(again).toBe(id);
      expect(w.tap.requests.filter((r) => r.url.includes('/blobs/'))).toEqual([]);
    });

    it('pulls the arm64 instance of an OCI index and an OCI image', async () => {
      const arm = sets.podman.ociIndex.instances.find((i) => i.platform.architecture === 'arm64')!;
      const id = await sb.podmanPull(
        await sb.newStore('podman-index'),
        `${w.wharf.host}/d28/podman/oci-index:v1`,
        arm.platform,
      );
      expect(`sha256:${id}`).toBe(arm.configDigest);
      const oci = await sb.podmanPull(await sb.newStore('podman-oci'), `${w.wharf.host}/d28/podman/oci:v1`);
      expect(`sha256:${oci}`).toBe(sets.podman.oci.configDigest);
    });
  });

  describe('containerd ctr (hosts.toml mirror: ?ns=)', () => {
    let containerd: Containerd;
    /** In front of Wharf, to see what ctr asks it. */
    let front: UpstreamTap;

    beforeAll(async () => {
      containerd = await Containerd.start();
      front = await UpstreamTap.start(w.wharf.url);
      await containerd.addMirror(D28_NS, front.url);
    });

    afterAll(async () => {
      await front?.stop();
      await containerd?.stop();
    });

    it('pulls an OCI index for all platforms through the mirror, every request with ?ns=', async () => {
      const set = sets.ctr;
      await containerd.pull('idx', `${D28_NS}/ctr/oci-index:v1`, { allPlatforms: true });
      const content = await containerd.contentDigests('idx');
      expect(content).toEqual(
        expect.arrayContaining([set.ociIndex.digest, ...set.ociIndex.instances.map((i) => i.manifestDigest)]),
      );
      expect(front.requests.length).toBeGreaterThan(0);
      const withoutNs = front.requests.filter(
        (r) => r.url.startsWith('/v2/ctr/') && !r.url.includes(`ns=${D28_NS}`),
      );
      expect(withoutNs).toEqual([]);
      expect(
        front.requests.filter((r) => r.status !== 200).map((r) => `${r.method} ${r.url} ${r.status}`),
      ).toEqual([]);
      // Upstream, the cache asked for the plain path.
      expect(w.tap.requests.filter((r) => r.url.includes('ns='))).toEqual([]);
      expect(w.tap.askedManifests('ctr/oci-index')).toBe(true);
    });

    it('pulls a Docker image and a Docker list; a fresh namespace pulls them from the cache alone', async () => {
      const set = sets.ctr;
      await containerd.pull('dock', `${D28_NS}/ctr/docker:v1`);
      await containerd.pull('dock', `${D28_NS}/ctr/docker-list:v1`, { allPlatforms: true });
      expect(await containerd.contentDigests('dock')).toEqual(
        expect.arrayContaining([set.docker.manifestDigest, set.docker.configDigest, set.dockerList.digest]),
      );
      w.tap.resetCounts();
      await containerd.pull('dock-again', `${D28_NS}/ctr/docker:v1`);
      await containerd.pull('dock-again', `${D28_NS}/ctr/docker-list:v1`, { allPlatforms: true });
      expect(
        w.tap.requests.filter((r) => r.url.includes('/blobs/') || r.url.includes('/manifests/sha256:')),
      ).toEqual([]);
    });
  });
});
