/**
 * Durable events in the all-in-one (PROTOCOL.md §8, docs/adr/0010-durable-events.md): a local
 * webhook receiver gets Distribution's envelope for push, pull, mount and delete, and an outage of
 * the receiver loses nothing. The crash case (kill -9 mid-delivery) is in events-crash.spec.ts.
 */
import { rmSync } from 'node:fs';
import type { RegistryEvent } from '@wharf/contracts';
import { AuthFiles, basic, pushImage as pushTiny, tinyImage } from '../auth/support';
import { RegistryClient, buildImage, expectError, expectStatus, sha256 } from '../api/support/client';
import { startInProcessRegistry } from '../support/in-process';
import type { TestRegistry } from '../support/registry';
import { Receiver, matching } from './receiver';

const EVENTS_MT = 'application/vnd.docker.distribution.events.v2+json';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function webhookEnv(receiver: Receiver, extra: Record<string, string> = {}): Record<string, string> {
  return {
    WHARF_EVENTS_WEBHOOKS: JSON.stringify([
      { url: receiver.url, name: 'test', headers: { Authorization: ['Bearer hook-secret'] }, timeout: '2s' },
    ]),
    WHARF_EVENTS_WEBHOOK_BACKOFF: '100ms',
    WHARF_EVENTS_WEBHOOK_MAX_BACKOFF: '500ms',
    WHARF_EVENTS_PULL_FLUSH: '100ms',
    ...extra,
  };
}

describe('events: webhook deliveries', () => {
  const receiver = new Receiver();
  let registry: TestRegistry;
  let client: RegistryClient;

  beforeAll(async () => {
    await receiver.start();
    registry = await startInProcessRegistry(webhookEnv(receiver));
    client = new RegistryClient(registry.url);
  });

  afterAll(async () => {
    client?.close();
    await registry?.stop();
    await receiver.stop();
  });

  it('a push of blobs and a tagged manifest is reported as push events with Distribution’s fields', async () => {
    const repo = 'events/push';
    const image = await client.pushImage(repo, { tag: 'v1' });
    const acked = await receiver.waitFor((a) => matching(a, 'push', repo).length >= 3);
    const [manifest] = matching(acked, 'push', repo, { digest: image.digest });
    expect(manifest.target).toEqual({
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.manifest.length,
      length: image.manifest.length,
      repository: repo,
      url: `${registry.url}/v2/${repo}/manifests/${image.digest}`,
      tag: 'v1',
    });
    expect(manifest.id).toMatch(UUID);
    expect(Number.isNaN(Date.parse(manifest.timestamp))).toBe(false);
    expect(manifest.request).toMatchObject({ method: 'PUT', host: new URL(registry.url).host });
    expect(manifest.request).toHaveProperty('id');
    expect(manifest.request).toHaveProperty('useragent');
    expect((manifest.request as { addr: string }).addr).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(manifest.actor).toEqual({});
    expect(manifest.source.instanceID).toMatch(UUID);
    expect(manifest.source.addr).toMatch(/:\d+$/);
    for (const blob of [image.configBlob, ...image.layerBlobs]) {
      const [pushed] = matching(acked, 'push', repo, { digest: sha256(blob) });
      expect(pushed.target).toEqual({
        mediaType: 'application/octet-stream',
        digest: sha256(blob),
        size: blob.length,
        length: blob.length,
        repository: repo,
        url: `${registry.url}/v2/${repo}/blobs/${sha256(blob)}`,
      });
      expect(pushed.request).toMatchObject({ method: 'PUT' });
    }
  });

  it('each POST is the v2 envelope: its media type, configured headers, 3-space indented JSON', async () => {
    const repo = 'events/envelope';
    const image = await client.pushImage(repo, { tag: 'latest' });
    await receiver.waitFor((a) => matching(a, 'push', repo, { digest: image.digest }).length > 0);
    const req = receiver.requests.find((r) => r.events.some((e) => e.target.digest === image.digest))!;
    expect(req.contentType).toBe(EVENTS_MT);
    expect(req.headers.authorization).toBe('Bearer hook-secret');
    expect(req.raw).toBe(JSON.stringify({ events: req.events }, null, 3));
  });

  it('manifest and blob pulls (GET and HEAD) are reported as pull events', async () => {
    const repo = 'events/pull';
    const image = await client.pushImage(repo, { tag: 'v1' });
    expectStatus(await client.get(`/v2/${repo}/manifests/v1`, { Accept: image.mediaType }), 200);
    expectStatus(
      await client.head(`/v2/${repo}/manifests/${image.digest}`, { Accept: image.mediaType }),
      200,
    );
    const layer = image.layers[0].digest;
    expectStatus(await client.get(`/v2/${repo}/blobs/${layer}`), 200);
    const acked = await receiver.waitFor((a) => matching(a, 'pull', repo).length >= 3);
    const byTag = matching(acked, 'pull', repo, { tag: 'v1' });
    expect(byTag).toHaveLength(1);
    expect(byTag[0].target).toMatchObject({
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.manifest.length,
    });
    expect(byTag[0].request).toMatchObject({ method: 'GET' });
    const byDigest = matching(acked, 'pull', repo, { digest: image.digest }).filter(
      (e) => e.target.tag === undefined,
    );
    expect(byDigest).toHaveLength(1);
    expect(byDigest[0].request).toMatchObject({ method: 'HEAD' });
    const [blob] = matching(acked, 'pull', repo, { digest: layer });
    expect(blob.target).toMatchObject({
      mediaType: 'application/octet-stream',
      size: image.layerBlobs[0].length,
      url: `${registry.url}/v2/${repo}/blobs/${layer}`,
    });
  });

  it('a cross-repository mount is reported as a mount event carrying fromRepository', async () => {
    const image = await client.pushImage('events/mount-src', { tag: 'v1' });
    const layer = image.layers[0].digest;
    const res = await client.post(`/v2/events/mount-dst/blobs/uploads/?mount=${layer}&from=events/mount-src`);
    expectStatus(res, 201);
    const acked = await receiver.waitFor((a) => matching(a, 'mount', 'events/mount-dst').length > 0);
    const [mount] = matching(acked, 'mount', 'events/mount-dst', { digest: layer });
    expect(mount.target).toMatchObject({
      digest: layer,
      size: image.layerBlobs[0].length,
      repository: 'events/mount-dst',
      fromRepository: 'events/mount-src',
      url: `${registry.url}/v2/events/mount-dst/blobs/${layer}`,
    });
    // A mount is not also a push.
    expect(matching(acked, 'push', 'events/mount-dst')).toHaveLength(0);
  });

  it('deletes are reported: manifest by digest (with each tag it took), tag, blob', async () => {
    const repo = 'events/delete';
    const image = await client.pushImage(repo, { tag: 'a' });
    await client.pushManifest(repo, 'b', image.manifest, image.mediaType);
    const other = await client.pushImage(repo, { tag: 'c' });
    expectStatus(await client.delete(`/v2/${repo}/manifests/c`), 202);
    expectStatus(await client.delete(`/v2/${repo}/manifests/${image.digest}`), 202);
    expectStatus(await client.delete(`/v2/${repo}/blobs/${image.layers[0].digest}`), 202);
    const acked = await receiver.waitFor((a) => matching(a, 'delete', repo).length >= 5);
    const deletes = matching(acked, 'delete', repo).map((e) => e.target);
    expect(deletes).toEqual(
      expect.arrayContaining([
        { repository: repo, tag: 'c' },
        { repository: repo, digest: image.digest },
        { repository: repo, tag: 'a' },
        { repository: repo, tag: 'b' },
        { repository: repo, digest: image.layers[0].digest },
      ]),
    );
    expect(deletes).toHaveLength(5);
    expect(matching(acked, 'delete', repo, { digest: other.digest })).toHaveLength(0);
  });

  it('a refused manifest push or delete reports nothing (the event goes with the change or not at all)', async () => {
    const repo = 'events/refused';
    const image = buildImage();
    // Its blobs were never pushed: MANIFEST_BLOB_UNKNOWN, the transaction rolls back with its event.
    expectError(
      await client.putManifest(repo, 'v1', image.manifest, image.mediaType),
      400,
      'MANIFEST_BLOB_UNKNOWN',
    );
    expectError(await client.delete(`/v2/${repo}/manifests/${image.digest}`), 404, 'MANIFEST_UNKNOWN');
    expectError(await client.delete(`/v2/${repo}/blobs/${image.config.digest}`), 404, 'BLOB_UNKNOWN');
    // Something after them, so that "nothing yet" means "nothing".
    const marker = await client.pushImage('events/refused-marker', { tag: 'v1' });
    await receiver.waitFor(
      (a) => matching(a, 'push', 'events/refused-marker', { digest: marker.digest }).length > 0,
    );
    expect(receiver.events.filter((e: RegistryEvent) => e.target.repository === repo)).toEqual([]);
  });

  it('while the receiver is down nothing is lost: everything arrives once it is back, ids unchanged', async () => {
    await receiver.stop();
    const repo = 'events/outage';
    const images = [];
    for (let i = 0; i < 5; i++) images.push(await client.pushImage(repo, { tag: `t${i}` }));
    expectStatus(await client.delete(`/v2/${repo}/manifests/t0`), 202);
    // Several failed attempts (connection refused) with backoff before the receiver comes back.
    await new Promise((r) => setTimeout(r, 2_000));
    const before = receiver.requests.length;
    await receiver.start();
    const acked = await receiver.waitFor(
      (a) => matching(a, 'push', repo).length >= 15 && matching(a, 'delete', repo).length >= 1,
    );
    expect(receiver.requests.length).toBeGreaterThan(before);
    for (const image of images)
      expect(matching(acked, 'push', repo, { digest: image.digest })).toHaveLength(1);
    expect(matching(acked, 'delete', repo, { tag: 't0' })).toHaveLength(1);
  });

  it('a receiver answering 503 gets the same event again until it answers 2xx; order holds', async () => {
    receiver.mode = 'fail';
    const repo = 'events/retry';
    const image = await client.pushImage(repo, { tag: 'v1' });
    const refused = () => receiver.requests.filter((r) => r.events.some((e) => e.target.repository === repo));
    const deadline = Date.now() + 20_000;
    while (refused().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // Only the oldest event is retried while the endpoint refuses; the others wait behind it.
    const refusedIds = new Set(refused().flatMap((r) => r.events.map((e) => e.id)));
    expect(refusedIds.size).toBe(1);
    receiver.mode = 'ok';
    const acked = await receiver.waitFor((a) => matching(a, 'push', repo).length >= 3);
    expect(matching(acked, 'push', repo, { digest: image.digest })).toHaveLength(1);
    expect(acked.map((e) => e.id)).toEqual(expect.arrayContaining([...refusedIds]));
  });
});

describe('events: WHARF_EVENTS_PULL=false', () => {
  const receiver = new Receiver();
  let registry: TestRegistry;
  let client: RegistryClient;

  beforeAll(async () => {
    await receiver.start();
    registry = await startInProcessRegistry(webhookEnv(receiver, { WHARF_EVENTS_PULL: 'false' }));
    client = new RegistryClient(registry.url);
  });

  afterAll(async () => {
    client?.close();
    await registry?.stop();
    await receiver.stop();
  });

  it('pulls are not reported, pushes still are', async () => {
    const repo = 'events/nopull';
    const image = await client.pushImage(repo, { tag: 'v1' });
    expectStatus(await client.get(`/v2/${repo}/manifests/v1`, { Accept: image.mediaType }), 200);
    expectStatus(await client.get(`/v2/${repo}/blobs/${image.layers[0].digest}`), 200);
    // A push after the pulls: once it is in, pulls batched before it would have been flushed too.
    await new Promise((r) => setTimeout(r, 300));
    const marker = await client.pushImage(repo, { tag: 'v2' });
    const acked = await receiver.waitFor(
      (a) => matching(a, 'push', repo, { digest: marker.digest }).length > 0,
    );
    expect(matching(acked, 'push', repo, { digest: image.digest })).toHaveLength(1);
    expect(receiver.events.filter((e) => e.action === 'pull')).toEqual([]);
  });
});

describe('events: with access control', () => {
  const receiver = new Receiver();
  let files: AuthFiles;
  let registry: TestRegistry;

  beforeAll(async () => {
    await receiver.start();
    files = new AuthFiles(
      { alice: 'secret-a', rita: 'secret-r' },
      'rules:\n  - subjects: [alice]\n    repositories: ["**"]\n    actions: [pull, push, delete]\n' +
        '  - subjects: [rita]\n    repositories: ["**"]\n    actions: [pull]\n',
    );
    registry = await startInProcessRegistry(
      webhookEnv(receiver, {
        WHARF_AUTH_MODE: 'basic',
        WHARF_AUTH_HTPASSWD: files.htpasswd,
        WHARF_AUTH_POLICY: files.policy,
      }),
    );
  });

  afterAll(async () => {
    await registry?.stop();
    await receiver.stop();
    rmSync(files.dir, { recursive: true, force: true });
  });

  it('events name the authenticated user as actor and keep the client’s X-Request-Id', async () => {
    const image = tinyImage();
    const headers = { ...basic('alice', 'secret-a'), 'X-Request-Id': 'client-req-42' };
    await pushTiny(registry.url, 'events/authn', 'v1', image, headers);
    const acked = await receiver.waitFor((a) => matching(a, 'push', 'events/authn').length >= 3);
    for (const e of matching(acked, 'push', 'events/authn')) {
      expect(e.actor).toEqual({ name: 'alice' });
      expect(e.request).toMatchObject({ id: 'client-req-42' });
    }
  });

  it('a push the policy refuses reports nothing', async () => {
    const image = tinyImage();
    await expect(
      pushTiny(registry.url, 'events/refused-authz', 'v1', image, basic('rita', 'secret-r')),
    ).rejects.toThrow(/403/);
    const marker = tinyImage();
    await pushTiny(registry.url, 'events/authz-marker', 'v1', marker, basic('alice', 'secret-a'));
    await receiver.waitFor((a) => matching(a, 'push', 'events/authz-marker').length >= 3);
    expect(receiver.events.filter((e) => e.target.repository === 'events/refused-authz')).toEqual([]);
  });
});
