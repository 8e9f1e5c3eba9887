/**
 * Immutable tags (WHARF_RULES) end to end, in both shapes whatever WHARF_E2E_SHAPE says: the
 * all-in-one in process, and the distributed shape (two gateways behind a round-robin proxy, two
 * metadata and two blob services from the built dist/, every one given WHARF_RULES). Over HTTP: an
 * overwrite is refused and the tag keeps its manifest, the same digest again is accepted, tag and
 * manifest deletes are refused, other tags stay free, an edit of the rules file takes effect while
 * the registry runs. With skopeo: copying another image onto a held tag fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MT,
  RegistryClient,
  buildImage,
  expectError,
  expectStatus,
  type BuiltImage,
} from '../api/support/client';
import { buildFixtureSet, type FixtureSet } from '../real-clients/fixtures';
import { ClientSandbox, CommandError, describeWithClients } from '../real-clients/tools';
import type { TestRegistry } from '../support/registry';

const RULES = `immutable:
  - repositories: ['release/**']
    tags: ['v*']
`;
const RELOADED = `${RULES}  - repositories: ['team/**']
    tags: ['stable']
`;
// WatchedFile looks for a change at most once a second.
const RELOAD_WAIT_MS = 1500;
const ACCEPT = [MT.ociManifest, MT.dockerManifest, MT.ociIndex, MT.dockerList].join(', ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(
  shape: 'all-in-one' | 'distributed',
  env: Record<string, string>,
): Promise<TestRegistry> {
  if (shape === 'distributed') {
    const { startDistributedRegistry } = await import('../support/distributed');
    return startDistributedRegistry({ env });
  }
  const { startInProcessRegistry } = await import('../support/in-process');
  return startInProcessRegistry(env);
}

describe.each(['all-in-one', 'distributed'] as const)('immutable tags (%s)', (shape) => {
  let dir: string;
  let rulesFile: string;
  let registry: TestRegistry;
  let client: RegistryClient;

  /** Pushes an image's blobs, not its manifest. */
  const pushBlobs = async (repo: string, image: BuiltImage) => {
    for (const blob of [image.configBlob, ...image.layerBlobs]) await client.pushBlob(repo, blob);
  };
  const putTag = (repo: string, tag: string, image: BuiltImage) =>
    client.putManifest(repo, tag, image.manifest, image.mediaType);
  const digestOf = async (repo: string, tag: string): Promise<string | undefined> => {
    const res = await client.head(`/v2/${repo}/manifests/${tag}`, { Accept: ACCEPT });
    return res.status === 200 ? res.header('docker-content-digest') : undefined;
  };
  const expectDenied = (res: Awaited<ReturnType<typeof putTag>>, tag: string) => {
    const body = expectError(res, 403, 'DENIED');
    expect(body.errors[0].message).toContain(`${rulesFile} line 2`);
    expect(body.errors[0].message).toContain(`:${tag} is immutable`);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-rules-'));
    rulesFile = join(dir, 'rules.yaml');
    writeFileSync(rulesFile, RULES);
    registry = await start(shape, { WHARF_RULES: rulesFile });
    client = new RegistryClient(registry.url);
  }, 180_000);

  afterAll(async () => {
    client?.close();
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to move a held tag, naming the rule, and the tag keeps its manifest', async () => {
    const first = await client.pushImage('release/app', { tag: 'v1' });
    const other = buildImage();
    await pushBlobs('release/app', other);
    expectDenied(await putTag('release/app', 'v1', other), 'v1');
    const got = await client.get(`/v2/release/app/manifests/v1`, { Accept: first.mediaType });
    expectStatus(got, 200);
    expect(got.header('docker-content-digest')).toBe(first.digest);
    expect(got.body.equals(first.manifest)).toBe(true);
    // Pushed by digest, the other manifest is welcome: it is the tag that does not move.
    expectStatus(await client.putManifest('release/app', other.digest, other.manifest, other.mediaType), 201);
    expect(await digestOf('release/app', 'v1')).toBe(first.digest);
  });

  it('accepts the same digest pushed again (clients retry)', async () => {
    const image = await client.pushImage('release/retry', { tag: 'v2.0' });
    for (let i = 0; i < 3; i++) expectStatus(await putTag('release/retry', 'v2.0', image), 201);
    expect(await digestOf('release/retry', 'v2.0')).toBe(image.digest);
  });

  it('refuses to delete a held tag or a manifest one points to', async () => {
    const image = await client.pushImage('release/del', { tag: 'v1' });
    expectStatus(await putTag('release/del', 'latest', image), 201);
    expectDenied(await client.delete('/v2/release/del/manifests/v1'), 'v1');
    expectDenied(await client.delete(`/v2/release/del/manifests/${image.digest}`), 'v1');
    expect(await digestOf('release/del', 'v1')).toBe(image.digest);
    expect(await digestOf('release/del', 'latest')).toBe(image.digest);
    expectError(await client.delete('/v2/release/del/manifests/v9'), 404, 'MANIFEST_UNKNOWN');
  });

  it('leaves tags and repositories no rule holds free', async () => {
    const a = await client.pushImage('release/free', { tag: 'latest' });
    const b = await client.pushImage('release/free', { tag: 'latest' });
    expect(await digestOf('release/free', 'latest')).toBe(b.digest);
    expectStatus(await client.delete(`/v2/release/free/manifests/${b.digest}`), 202);
    expectStatus(await putTag('release/free', 'main', a), 201);
    expectStatus(await client.delete('/v2/release/free/manifests/main'), 202);
    await client.pushImage('team/app', { tag: 'v1' });
    const moved = await client.pushImage('team/app', { tag: 'v1' });
    expect(await digestOf('team/app', 'v1')).toBe(moved.digest);
    expectStatus(await client.delete('/v2/team/app/manifests/v1'), 202);
  });

  it('takes an edit of the rules file while running', async () => {
    const first = await client.pushImage('team/svc', { tag: 'stable' });
    const second = await client.pushImage('team/svc', { tag: 'stable' });
    writeFileSync(rulesFile, RELOADED);
    await sleep(RELOAD_WAIT_MS);
    // Through every gateway, several times each, so that every metadata replica answers too.
    const gateways = (registry as { gateways?: string[] }).gateways ?? [registry.url];
    const clients = gateways.map((g) => new RegistryClient(g));
    try {
      for (let i = 0; i < 6; i++) {
        const c = clients[i % clients.length];
        const body = expectError(
          await c.putManifest('team/svc', 'stable', first.manifest, first.mediaType),
          403,
          'DENIED',
        );
        expect(body.errors[0].message).toContain(`${rulesFile} line 4`);
      }
      expect(await digestOf('team/svc', 'stable')).toBe(second.digest);
      writeFileSync(rulesFile, RULES);
      await sleep(RELOAD_WAIT_MS);
      for (let i = 0; i < 6; i++) {
        const image = i % 2 ? second : first;
        const c = clients[i % clients.length];
        expectStatus(await c.putManifest('team/svc', 'stable', image.manifest, image.mediaType), 201);
      }
    } finally {
      for (const c of clients) c.close();
    }
  });

  describeWithClients('rules/immutable.spec.ts', ['skopeo'])('with skopeo', () => {
    let sb: ClientSandbox;
    let set: FixtureSet;

    beforeAll(async () => {
      sb = await ClientSandbox.create('wharf-rules-immutable-');
      set = await buildFixtureSet(sb, undefined, `immutable-${shape}`);
    });

    afterAll(async () => {
      await sb?.dispose();
    });

    it('copying another image onto a held tag fails; the same image again succeeds', async () => {
      const dest = `docker://${registry.host}/release/skopeo:v1`;
      const copy = (source: string) => sb.skopeoCopy(source, dest, { preserveDigests: true });
      expect(await copy(set.sources.docker)).toBe(set.docker.manifestDigest);
      const refused = await copy(set.sources.oci).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(CommandError);
      expect((refused as CommandError).stderr).toMatch(/denied/i);
      expect(await digestOf('release/skopeo', 'v1')).toBe(set.docker.manifestDigest);
      expect(await copy(set.sources.docker)).toBe(set.docker.manifestDigest);
      // A tag no rule holds takes the other image.
      const free = `docker://${registry.host}/release/skopeo:latest`;
      expect(await sb.skopeoCopy(set.sources.oci, free, { preserveDigests: true })).toBe(
        set.oci.manifestDigest,
      );
    });
  });
});
