import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postmastersFor } from '@wharf/embedded-postgres';
import { spawnRegistry, type RegistryProcess } from './support/process';

// These tests run the built registry (`npm start`'s entry point) with its embedded PostgreSQL.
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushBlob(url: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha(data);
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    body: data,
  });
  expect(res.status).toBe(201);
  return digest;
}

async function pushImage(
  url: string,
  repo: string,
  tag: string,
): Promise<{ manifest: string; layer: Buffer }> {
  const layer = randomBytes(256 * 1024);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const layerDigest = await pushBlob(url, repo, layer);
  const configDigest = await pushBlob(url, repo, config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: configDigest,
      size: config.length,
    },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length },
    ],
  });
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  expect(res.status).toBe(201);
  return { manifest: sha(Buffer.from(manifest)), layer };
}

/** Starts a PATCH that sends `first` and then stalls, so the registry is killed mid-chunk. */
function stalledPatch(location: string, first: Buffer, announced: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request(location, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': announced },
    });
    req.on('error', () => resolve());
    req.on('response', () => resolve());
    req.write(first, () => setTimeout(resolve, 300));
  });
}

describe('all-in-one lifecycle', () => {
  let dataDir: string;
  let registry: RegistryProcess | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'wharf-lifecycle-'));
    // mkdtemp makes 0700; the embedded PostgreSQL runs as 'postgres' when we are root.
    chmodSync(dataDir, 0o755);
  });

  afterEach(async () => {
    if (registry && registry.child.exitCode === null) {
      registry.child.kill('SIGTERM');
      await registry.exited;
    }
    registry = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps images across a restart and stops its PostgreSQL with it', async () => {
    registry = await spawnRegistry(dataDir);
    const image = await pushImage(registry.url, 'lifecycle/restart', 'v1');

    registry.child.kill('SIGTERM');
    expect(await registry.exited).toBe(0);
    expect(postmastersFor(join(dataDir, 'postgres'))).toEqual([]);

    registry = await spawnRegistry(dataDir);
    const head = await fetch(`${registry.url}/v2/lifecycle/restart/manifests/v1`, {
      method: 'HEAD',
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('docker-content-digest')).toBe(image.manifest);
    const blob = await fetch(`${registry.url}/v2/lifecycle/restart/blobs/${sha(image.layer)}`);
    expect(Buffer.from(await blob.arrayBuffer()).equals(image.layer)).toBe(true);
  });

  it('recovers from kill -9 mid-push: nothing half-written is visible or committable, the retry succeeds', async () => {
    registry = await spawnRegistry(dataDir);
    const before = await pushImage(registry.url, 'lifecycle/crash', 'before');

    const blob = randomBytes(4 * 1024 * 1024);
    const digest = sha(blob);
    const repo = 'lifecycle/crash';
    // One chunk accepted, then a second chunk in flight when the registry dies.
    const start = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    const location = start.headers.get('location')!;
    const first = await fetch(location, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${1024 * 1024 - 1}` },
      body: blob.subarray(0, 1024 * 1024),
    });
    expect(first.status).toBe(202);
    const inflight = stalledPatch(location, blob.subarray(1024 * 1024, 2 * 1024 * 1024), 3 * 1024 * 1024);
    await new Promise((r) => setTimeout(r, 200));

    registry.child.kill('SIGKILL');
    await registry.exited;
    await inflight;

    // Same address, so the client's upload URL still points at the registry.
    registry = await spawnRegistry(dataDir, Number(new URL(location).port));
    expect(postmastersFor(join(dataDir, 'postgres'))).toHaveLength(1);

    // Committed data survived the crash.
    const kept = await fetch(`${registry.url}/v2/${repo}/manifests/before`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(kept.status).toBe(200);
    expect(kept.headers.get('docker-content-digest')).toBe(before.manifest);

    // The interrupted blob is not visible anywhere.
    expect((await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404);
    // The session still holds exactly the accepted chunk, not the bytes of the interrupted one.
    const status = await fetch(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${1024 * 1024 - 1}`);
    // Committing it as the full blob cannot succeed: the digest does not match what was accepted.
    const commit = await fetch(`${location}?digest=${digest}`, { method: 'PUT' });
    expect(commit.status).toBe(400);
    expect(((await commit.json()) as { errors: { code: string }[] }).errors[0].code).toBe('DIGEST_INVALID');
    expect((await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404);

    // The client's retry of the whole push succeeds.
    expect(await pushBlob(registry.url, repo, blob)).toBe(digest);
    const got = await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`);
    expect(sha(Buffer.from(await got.arrayBuffer()))).toBe(digest);
    // No upload files are left behind by the committed and the failed sessions.
    const uploads = join(dataDir, 'blobs', 'uploads');
    expect(existsSync(uploads) ? readdirSync(uploads) : []).toEqual([]);
  });
});
