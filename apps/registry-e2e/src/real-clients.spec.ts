/**
 * The registry as the real clients see it: skopeo, podman and buildah push and pull a multi-layer
 * Docker schema2 image, an OCI image, an OCI image index and a Docker manifest list, and every
 * digest has to round-trip:
 *  - the digest the client reports for its push (--digestfile) is what `skopeo inspect --raw`
 *    hashes to and what HEAD/GET (with the right Accept) report in Docker-Content-Digest;
 *  - everything the manifest references is there and intact (HEAD + GET, hash, size);
 *  - the pushed artifact is the one built locally (config digests, diff_ids, platforms);
 *  - pulling it back (by tag, by digest, and for lists by instance digest) with the same client
 *    yields the same manifests, configs and layers.
 * A cross-repository copy (skopeo, registry to registry) exercises blob mounts.
 *
 * Images are written locally by hand (no network, no base image); see real-clients/fixtures.ts.
 * Client isolation and the flags each client needs: real-clients/tools.ts.
 *
 * Runs against Wharf in-process, or against whatever WHARF_E2E_URL points at, e.g. Distribution:
 *   WHARF_E2E_URL=http://127.0.0.1:<port> npx jest apps/registry-e2e/src/real-clients.spec.ts
 * (WHARF_E2E_VERBOSE=1 prints every client command line.)
 */
import { randomBytes } from 'node:crypto';
import { startTestRegistry, TestRegistry } from './support/registry';
import { ArtifactSummary } from './real-clients/content';
import { expectMatchesBuilt, verifyServed } from './real-clients/checks';
import { KINDS, KindInfo } from './real-clients/kinds';
import { buildahDriver, ClientDriver, podmanDriver, skopeoDriver } from './real-clients/drivers';
import { buildFixtureSet, FixtureSet } from './real-clients/fixtures';
import { ClientSandbox, describeWithClients, REAL_CLIENTS } from './real-clients/tools';

const TEST_TIMEOUT = 300_000;
const SET_NAMES = ['skopeo', 'podman', 'buildah', 'xrepo'] as const;
jest.setTimeout(TEST_TIMEOUT);

describeWithClients('real-clients.spec.ts', REAL_CLIENTS)('real clients: skopeo, podman, buildah', () => {
  const runId = randomBytes(4).toString('hex');
  let registry: TestRegistry;
  let sb: ClientSandbox;
  /** One image set per client (plus one for the copy tests), each in a build store of its own. */
  let sets: Record<(typeof SET_NAMES)[number], FixtureSet>;
  let repoCount = 0;

  /** A repository nobody has pushed to: wharf-e2e/<what>-<run>-<n>. */
  const freshRepository = (what: string) => `wharf-e2e/${what}-${runId}-${++repoCount}`;

  beforeAll(async () => {
    registry = await startTestRegistry();
    sb = await ClientSandbox.create();
    // podman and buildah push from a containers-storage, one per set; skopeo from the layouts.
    const built = await Promise.all(
      SET_NAMES.map(async (name) =>
        buildFixtureSet(
          sb,
          name === 'podman' || name === 'buildah' ? await sb.newStore(`build-${name}`) : undefined,
          `${name}-${runId}`,
        ),
      ),
    );
    sets = Object.fromEntries(SET_NAMES.map((name, i) => [name, built[i]])) as typeof sets;
  }, TEST_TIMEOUT);

  afterAll(async () => {
    await registry?.stop();
    if (process.env.WHARF_E2E_KEEP) console.warn(`real-clients sandbox kept: ${sb?.dir}`);
    else await sb?.dispose();
  }, TEST_TIMEOUT);

  /** Push with `driver`, verify what the registry serves, check it is what was built. */
  async function pushAndVerify(
    driver: ClientDriver,
    set: FixtureSet,
    info: KindInfo,
    what: string = driver.tool,
  ) {
    const repository = freshRepository(`${what}-${info.kind}`);
    const tag = 'v1';
    const digest = await driver.push(set, info, `${registry.host}/${repository}:${tag}`);
    const summary = await verifyServed(sb, registry, { repository, tag, digest }, info);
    expectMatchesBuilt(summary, info, set, driver.exactPush);
    return { repository, tag, digest, summary };
  }

  describe.each([
    ['skopeo', skopeoDriver],
    ['podman', podmanDriver],
    ['buildah', buildahDriver],
  ] as const)('%s', (tool, makeDriver) => {
    test.each(KINDS)(`${tool} pushes and pulls $kind (by tag and by digest)`, async (info) => {
      const driver = makeDriver(sb);
      const { repository, tag, digest, summary } = await pushAndVerify(driver, sets[tool], info);
      const repo = `${registry.host}/${repository}`;

      await driver.pullAndCheck({ ref: `${repo}:${tag}`, expected: summary, info, repository: repo });
      await driver.pullAndCheck({ ref: `${repo}@${digest}`, expected: summary, info, repository: repo });

      if (info.isList) {
        // An instance of the list, by its own digest, is an ordinary image.
        const instance = summary.images[summary.images.length - 1];
        const expected: ArtifactSummary = {
          digest: instance.digest,
          mediaType: instance.mediaType,
          size: instance.size,
          images: [{ ...instance, platform: undefined }],
          isList: false,
        };
        await driver.pullAndCheck({
          ref: `${repo}@${instance.digest}`,
          expected,
          info: { ...info, isList: false, mediaType: instance.mediaType },
          repository: repo,
        });
      }
    });
  });

  describe('cross-repository copy (skopeo, registry to registry)', () => {
    // skopeo remembers (blob-info cache) that it just pushed/read the blobs in the source repository
    // and mounts them into the destination instead of uploading them again.
    test.each(KINDS)(
      'copies $kind from one repository to another without changing a digest',
      async (info) => {
        const src = await pushAndVerify(skopeoDriver(sb), sets.xrepo, info, 'copy-src');

        for (const srcRef of [`${src.repository}:${src.tag}`, `${src.repository}@${src.digest}`]) {
          const repository = freshRepository(`copy-dst-${info.kind}`);
          const digest = await sb.skopeoCopy(
            `docker://${registry.host}/${srcRef}`,
            `docker://${registry.host}/${repository}:copied`,
            { all: info.isList, preserveDigests: true },
          );
          expect(digest).toBe(src.digest);
          const copied = await verifyServed(sb, registry, { repository, tag: 'copied', digest }, info);
          expect(copied).toEqual(src.summary);
        }
      },
    );
  });
});
