/**
 * The registry as Docker Engine and containerd see it: the docker CLI (through a dockerd) logs in,
 * pushes and pulls by tag and by digest; ctr pushes and pulls multi-arch indexes with every platform
 * (--all-platforms), by tag and by digest; both with basic and with token authentication.
 *
 * Each run starts a containerd and a dockerd of its own (real-clients/daemons.ts): no systemd, no
 * network, nothing of the machine's Docker touched. Images come from the hand-written fixtures
 * (real-clients/fixtures.ts): `docker load` of a docker-archive that skopeo writes from the Docker
 * image's dir:, `ctr images import` of the OCI layout packed as a tar.
 *
 * What is checked, beyond "the client said OK": the digest the client reports is the one the
 * registry serves, the registry serves an intact artifact that is the one built (checks.ts), and
 * what comes back from a pull — the image docker reports, the content ctr exports — is that artifact.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { AuthFiles } from './auth/support';
import { startInProcessRegistry } from './support/in-process';
import { startTestRegistry, type TestRegistry } from './support/registry';
import { expectMatchesBuilt, verifyServed } from './real-clients/checks';
import { type ArtifactSummary, type Descriptor, OciLayoutContent, summarize } from './real-clients/content';
import { DOCKER_CLIENTS, DockerDaemons } from './real-clients/daemons';
import { buildFixtureSet, type FixtureSet } from './real-clients/fixtures';
import { KINDS, type Kind, type KindInfo } from './real-clients/kinds';
import { ClientSandbox, describeWithClients, run } from './real-clients/tools';

const TEST_TIMEOUT = 300_000;
jest.setTimeout(TEST_TIMEOUT);

const kind = (k: Kind): KindInfo => KINDS.find((info) => info.kind === k)!;

const USERS = { alice: 'alice-pw', bob: 'bob-pw', rita: 'rita-pw' };
const POLICY = `
groups:
  readers: [rita]
rules:
  - subjects: [alice]
    repositories: ["alice/**"]
    actions: [pull, push]
  - subjects: [bob]
    repositories: ["bob/**"]
    actions: [pull, push]
  - subjects: ["group:readers"]
    repositories: ["alice/**"]
    actions: [pull]
`;
/**
 * What the clients print when the registry says no (401 or 403, per client and step). No bare status
 * numbers: the error message holds client output full of hex digests.
 */
const REFUSED =
  /denied|unauthorized|authentication required|no basic auth credentials|insufficient_scope|forbidden/i;
/**
 * ctr pushes every descriptor at once and cancels the rest when one is refused: which error it prints
 * is a race, and the loser's is "failed to authorize: ... context canceled". Accepted only together
 * with a check that the registry holds nothing under the refused name.
 */
const CTR_REFUSED = new RegExp(`${REFUSED.source}|failed to authorize: .*context canceled`, 'i');

describeWithClients('docker-containerd.spec.ts', [...DOCKER_CLIENTS, 'skopeo'], { root: true })(
  'real clients: docker and containerd (ctr)',
  () => {
    const runId = randomBytes(4).toString('hex');
    let open: TestRegistry;
    const secured: Partial<Record<'basic' | 'token', { registry: TestRegistry; files: AuthFiles }>> = {};
    let daemons: DockerDaemons;
    let sb: ClientSandbox;
    let set: FixtureSet;
    /** docker-archive of the fixture's Docker schema2 image, for `docker load`. */
    let dockerArchive: string;
    /** The fixture's OCI layout as a tar, for `ctr images import`. */
    let ociArchive: string;
    let namespaceCount = 0;
    let repoCount = 0;
    const freshRepository = (what: string) => `wharf-e2e/${what}-${runId}-${++repoCount}`;
    /** A ctr namespace nobody has used: an empty image and content store. */
    const freshNamespace = (what: string) => `${what}-${++namespaceCount}`;

    beforeAll(async () => {
      open = await startTestRegistry();
      for (const mode of ['basic', 'token'] as const) {
        const files = new AuthFiles(USERS, POLICY);
        const registry = await startInProcessRegistry({
          WHARF_AUTH_MODE: mode,
          WHARF_AUTH_HTPASSWD: files.htpasswd,
          WHARF_AUTH_POLICY: files.policy,
          // Every client here is 127.0.0.1, and the wrong-password cases (a client retries each
          // refused request) would otherwise lock out the right password with 429.
          WHARF_AUTH_FAILED_LOGIN_LIMIT: '1000',
        });
        secured[mode] = { registry, files };
      }
      // dockerd learns its plain-HTTP registries at start, so it starts after the registries.
      daemons = await DockerDaemons.start({
        insecureRegistries: [open.host, secured.basic!.registry.host, secured.token!.registry.host],
      });
      sb = await ClientSandbox.create('wharf-docker-clients-');
      set = await buildFixtureSet(sb, undefined, `docker-${runId}`);
      dockerArchive = path.join(await sb.newDir('docker-archive'), 'image.tar');
      await sb.skopeo([
        'copy',
        '--quiet',
        set.sources.docker,
        `docker-archive:${dockerArchive}:${set.docker.name}`,
      ]);
      ociArchive = path.join(await sb.newDir('oci-archive'), 'layout.tar');
      const layoutDir = set.sources.oci.replace(/^oci:/, '').replace(/:[^:]*$/, '');
      await run('tar', ['-C', layoutDir, '-cf', ociArchive, '.']);
    }, TEST_TIMEOUT);

    afterAll(async () => {
      // Every step runs even when an earlier one throws: a leaked daemon outlives the run otherwise.
      const steps = [
        () => daemons?.stop(),
        () => open?.stop(),
        () => secured.basic?.registry.stop(),
        () => secured.token?.registry.stop(),
        () => sb?.dispose(),
      ];
      const errors: unknown[] = [];
      for (const step of steps) await Promise.resolve(step()).catch((err) => errors.push(err));
      if (errors.length) throw errors[0];
    }, TEST_TIMEOUT);

    // ---- docker ----------------------------------------------------------------------------------

    /** `docker load`s the fixture image into the daemon, tags it `ref`; returns the image ID. */
    async function loadDockerImage(dockerConfig: string, ref: string): Promise<string> {
      const { stdout } = await daemons.docker(dockerConfig, ['load', '--quiet', '--input', dockerArchive]);
      expect(stdout).toContain(set.docker.name);
      await daemons.docker(dockerConfig, ['tag', set.docker.name, ref]);
      return imageId(dockerConfig, ref);
    }

    async function imageId(dockerConfig: string, ref: string): Promise<string> {
      const { stdout } = await daemons.docker(dockerConfig, ['image', 'inspect', '--format', '{{.Id}}', ref]);
      return stdout.trim();
    }

    /** `docker push`; returns the manifest digest docker reports ("<tag>: digest: sha256:… size: N"). */
    async function dockerPush(dockerConfig: string, ref: string): Promise<string> {
      const { stdout } = await daemons.docker(dockerConfig, ['push', ref]);
      const match = /digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(stdout);
      if (!match) throw new Error(`no digest in docker push output:\n${stdout}`);
      return match[1];
    }

    /** Removes every image from the daemon, so that the next pull fetches every blob. */
    async function dockerRemoveAll(dockerConfig: string): Promise<void> {
      const { stdout } = await daemons.docker(dockerConfig, [
        'image',
        'ls',
        '--all',
        '--quiet',
        '--no-trunc',
      ]);
      const ids = [...new Set(stdout.split('\n').filter(Boolean))];
      if (ids.length) await daemons.docker(dockerConfig, ['image', 'rm', '--force', ...ids]);
      const after = await daemons.docker(dockerConfig, ['image', 'ls', '--all', '--quiet']);
      expect(after.stdout.trim()).toBe('');
    }

    interface DockerInspect {
      Id: string;
      RepoDigests: string[];
      Architecture: string;
      Os: string;
      RootFS: { Layers: string[] };
    }

    async function dockerInspect(dockerConfig: string, ref: string): Promise<DockerInspect> {
      const { stdout } = await daemons.docker(dockerConfig, ['image', 'inspect', ref]);
      return (JSON.parse(stdout) as DockerInspect[])[0];
    }

    /** Pulls `ref` into an empty daemon and checks it is the image `expected` describes. */
    async function dockerPullAndCheck(
      dockerConfig: string,
      repository: string,
      ref: string,
      expected: ArtifactSummary,
      image = expected.images[0],
    ): Promise<void> {
      await dockerRemoveAll(dockerConfig);
      const { stdout } = await daemons.docker(dockerConfig, ['pull', ref]);
      expect(stdout).toContain(`Digest: ${expected.digest}`);
      const inspect = await dockerInspect(dockerConfig, ref);
      expect({
        id: inspect.Id,
        layers: inspect.RootFS.Layers,
        os: inspect.Os,
        architecture: inspect.Architecture,
      }).toEqual({
        id: image.config.digest,
        layers: image.diffIds,
        os: image.os,
        architecture: image.architecture,
      });
      expect(inspect.RepoDigests).toContain(`${repository}@${expected.digest}`);
    }

    describe('docker', () => {
      test('docker pushes a loaded image; the registry serves it intact; it pulls back by tag and by digest', async () => {
        const config = await daemons.newDockerConfig('open');
        const repository = freshRepository('docker');
        const repo = `${open.host}/${repository}`;
        const id = await loadDockerImage(config, `${repo}:v1`);
        // docker keeps the config byte for byte: the image ID is the built config's digest.
        expect(id).toBe(set.docker.configDigest);

        const digest = await dockerPush(config, `${repo}:v1`);
        const info = kind('docker');
        const summary = await verifyServed(sb, open, { repository, tag: 'v1', digest }, info);
        // docker recompresses the layers it pushes; configs, diff_ids and the format stay.
        expectMatchesBuilt(summary, info, set);

        await dockerPullAndCheck(config, repo, `${repo}:v1`, summary);
        await dockerPullAndCheck(config, repo, `${repo}@${digest}`, summary);
      });

      test('docker pulls the linux/amd64 instance of a multi-arch OCI index by tag and by digest', async () => {
        const repository = freshRepository('docker-index');
        const digest = await sb.skopeoCopy(
          set.sources['oci-index'],
          `docker://${open.host}/${repository}:v1`,
          {
            all: true,
            preserveDigests: true,
          },
        );
        const summary = await verifyServed(sb, open, { repository, tag: 'v1', digest }, kind('oci-index'));
        const amd64 = summary.images.find((img) => img.architecture === 'amd64' && img.os === 'linux')!;
        const config = await daemons.newDockerConfig('index');
        const repo = `${open.host}/${repository}`;
        for (const ref of [`${repo}:v1`, `${repo}@${digest}`]) {
          await dockerPullAndCheck(config, repo, ref, summary, amd64);
        }
      });
    });

    // ---- containerd (ctr) ------------------------------------------------------------------------

    /** Imports the fixture OCI layout into a fresh namespace; returns (namespace, local name of the index). */
    async function ctrImportIndex(): Promise<{ namespace: string; local: string }> {
      const namespace = freshNamespace('import');
      await daemons.ctr(namespace, ['images', 'import', '--all-platforms', ociArchive]);
      const { stdout } = await daemons.ctr(namespace, ['images', 'ls', '--quiet']);
      // ctr names imported images <prefix>:<org.opencontainers.image.ref.name>.
      const local = stdout.split('\n').find((name) => name.endsWith(':oci-index'));
      if (!local) throw new Error(`ctr import: no oci-index image among:\n${stdout}`);
      return { namespace, local };
    }

    interface CtrImage {
      name: string;
      mediaType: string;
      digest: string;
    }

    async function ctrImage(namespace: string, name: string): Promise<CtrImage> {
      const { stdout } = await daemons.ctr(namespace, ['images', 'ls']);
      for (const line of stdout.split('\n').slice(1)) {
        const [ref, mediaType, digest] = line.trim().split(/\s+/);
        if (ref === name) return { name: ref, mediaType, digest };
      }
      throw new Error(`ctr images ls: no ${name} in\n${stdout}`);
    }

    /**
     * `ctr images pull --all-platforms` of `ref` into a fresh namespace, then everything the image
     * refers to is exported from containerd and compared to what the registry serves.
     */
    async function ctrPullAndCheck(ref: string, expected: ArtifactSummary, user?: string): Promise<void> {
      const namespace = freshNamespace('pull');
      await daemons.ctr(namespace, [
        'images',
        'pull',
        '--plain-http',
        '--all-platforms',
        ...(user ? ['--user', user] : []),
        ref,
      ]);
      const pulled = await ctrImage(namespace, ref);
      expect(pulled).toEqual({ name: ref, mediaType: expected.mediaType, digest: expected.digest });

      const exportDir = await sb.newDir('ctr-export');
      const tarball = path.join(exportDir, 'export.tar');
      await daemons.ctr(namespace, ['images', 'export', '--all-platforms', tarball, ref]);
      const layout = path.join(exportDir, 'layout');
      await fs.mkdir(layout);
      await run('tar', ['-C', layout, '-xf', tarball]);
      const index = JSON.parse(await fs.readFile(path.join(layout, 'index.json'), 'utf8'));
      const entries = index.manifests as Descriptor[];
      expect(entries.map((e) => e.digest)).toEqual([expected.digest]);
      const local = await summarize(
        new OciLayoutContent(layout),
        expected.digest,
        expected.mediaType,
        entries[0].size,
      );
      expect(local).toEqual(expected);
    }

    describe('containerd (ctr)', () => {
      test('ctr pushes an imported multi-arch OCI index byte for byte and pulls it back --all-platforms by tag and by digest', async () => {
        const { namespace, local } = await ctrImportIndex();
        expect((await ctrImage(namespace, local)).digest).toBe(set.ociIndex.digest);
        const repository = freshRepository('ctr-index');
        const repo = `${open.host}/${repository}`;
        await daemons.ctr(namespace, ['images', 'push', '--plain-http', `${repo}:v1`, local]);

        const info = kind('oci-index');
        const digest = set.ociIndex.digest;
        const summary = await verifyServed(sb, open, { repository, tag: 'v1', digest }, info);
        expectMatchesBuilt(summary, info, set, true);

        await ctrPullAndCheck(`${repo}:v1`, summary);
        await ctrPullAndCheck(`${repo}@${digest}`, summary);
      });

      test('ctr pulls a Docker manifest list --all-platforms and pushes it on to another repository unchanged', async () => {
        const info = kind('docker-list');
        const source = freshRepository('ctr-list-src');
        const digest = await sb.skopeoCopy(set.sources['docker-list'], `docker://${open.host}/${source}:v1`, {
          all: true,
          preserveDigests: true,
        });
        const summary = await verifyServed(sb, open, { repository: source, tag: 'v1', digest }, info);

        const namespace = freshNamespace('relay');
        const byDigest = `${open.host}/${source}@${digest}`;
        await daemons.ctr(namespace, ['images', 'pull', '--plain-http', '--all-platforms', byDigest]);
        const target = freshRepository('ctr-list-dst');
        await daemons.ctr(namespace, [
          'images',
          'push',
          '--plain-http',
          `${open.host}/${target}:v1`,
          byDigest,
        ]);

        const pushed = await verifyServed(sb, open, { repository: target, tag: 'v1', digest }, info);
        expect(pushed).toEqual(summary);
        await ctrPullAndCheck(`${open.host}/${target}:v1`, summary);
      });
    });

    // ---- with access control ---------------------------------------------------------------------

    describe.each(['basic', 'token'] as const)('%s authentication', (mode) => {
      const host = () => secured[mode]!.registry.host;
      const repo = (name: string) => `${host()}/${name}-${runId}`;

      test('docker login accepts the right password and refuses a wrong one', async () => {
        const config = await daemons.newDockerConfig(`${mode}-alice`);
        await daemons.docker(config, ['login', '--username', 'alice', '--password', USERS.alice, host()]);
        const stored = JSON.parse(await fs.readFile(path.join(config, 'config.json'), 'utf8'));
        expect(Object.keys(stored.auths ?? {})).toContain(host());

        const wrong = await daemons.newDockerConfig(`${mode}-wrong`);
        await expect(
          daemons.docker(wrong, ['login', '--username', 'alice', '--password', 'wrong', host()]),
        ).rejects.toThrow(REFUSED);
        await expect(fs.readFile(path.join(wrong, 'config.json'), 'utf8')).resolves.not.toContain(host());
      });

      test('docker pushes and pulls by tag and by digest where the policy allows, and is refused elsewhere', async () => {
        const alice = await daemons.newDockerConfig(`${mode}-alice`);
        const rita = await daemons.newDockerConfig(`${mode}-rita`);
        const bob = await daemons.newDockerConfig(`${mode}-bob`);
        const anonymous = await daemons.newDockerConfig(`${mode}-anonymous`);
        for (const [config, user] of [
          [alice, 'alice'],
          [rita, 'rita'],
          [bob, 'bob'],
        ] as const) {
          await daemons.docker(config, ['login', '--username', user, '--password', USERS[user], host()]);
        }

        const target = repo('alice/docker');
        await loadDockerImage(alice, `${target}:v1`);
        await expect(dockerPush(bob, `${target}:v1`)).rejects.toThrow(REFUSED);
        await expect(dockerPush(anonymous, `${target}:v1`)).rejects.toThrow(REFUSED);
        const digest = await dockerPush(alice, `${target}:v1`);

        // rita may read alice/**: by tag and by digest, into an empty daemon each time.
        for (const ref of [`${target}:v1`, `${target}@${digest}`]) {
          await dockerRemoveAll(rita);
          const { stdout } = await daemons.docker(rita, ['pull', ref]);
          expect(stdout).toContain(`Digest: ${digest}`);
          expect(await imageId(rita, ref)).toBe(set.docker.configDigest);
        }
        await dockerRemoveAll(bob);
        await expect(daemons.docker(bob, ['pull', `${target}:v1`])).rejects.toThrow(REFUSED);
        await expect(daemons.docker(anonymous, ['pull', `${target}@${digest}`])).rejects.toThrow(REFUSED);
      });

      test('ctr pushes and pulls an index --all-platforms with --user, and is refused without', async () => {
        const { namespace, local } = await ctrImportIndex();
        const target = repo('alice/ctr');
        const push = (user: string[]) =>
          daemons.ctr(namespace, ['images', 'push', '--plain-http', ...user, `${target}:v1`, local]);
        await expect(push([])).rejects.toThrow(CTR_REFUSED);
        await expect(push(['--user', 'alice:wrong'])).rejects.toThrow(CTR_REFUSED);
        await expect(push(['--user', `bob:${USERS.bob}`])).rejects.toThrow(CTR_REFUSED);
        const noTag = await daemons
          .ctr(freshNamespace(`${mode}-probe`), [
            'images',
            'pull',
            '--plain-http',
            '--user',
            `alice:${USERS.alice}`,
            `${target}:v1`,
          ])
          .then(
            () => 'pulled',
            (err: Error) => err.message,
          );
        expect(noTag).toMatch(/not found/i);
        await push(['--user', `alice:${USERS.alice}`]);

        const digest = set.ociIndex.digest;
        for (const ref of [`${target}:v1`, `${target}@${digest}`]) {
          const pulled = freshNamespace(`${mode}-pull`);
          await daemons.ctr(pulled, [
            'images',
            'pull',
            '--plain-http',
            '--all-platforms',
            '--user',
            `rita:${USERS.rita}`,
            ref,
          ]);
          expect(await ctrImage(pulled, ref)).toMatchObject({ digest });
          // Every platform came along: each instance's config and layers are in containerd.
          const { stdout } = await daemons.ctr(pulled, ['content', 'ls', '--quiet']);
          for (const instance of set.ociIndex.instances) {
            expect(stdout).toContain(instance.manifestDigest);
            expect(stdout).toContain(instance.configDigest);
          }
        }
        const anonymous = freshNamespace(`${mode}-anonymous`);
        await expect(
          daemons.ctr(anonymous, ['images', 'pull', '--plain-http', '--all-platforms', `${target}:v1`]),
        ).rejects.toThrow(REFUSED);
      });
    });
  },
);
