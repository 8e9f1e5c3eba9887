/**
 * Blob GETs in one hop on a shared filesystem (ADR 23): a gateway started with the blob services'
 * WHARF_STORAGE_ROOT reads committed blobs from it itself, once the store id the blob services
 * report is the one in its root. The proof is that the reads keep working with every blob replica
 * stopped, and that the blob services' data port counted none of them. A gateway on another root
 * (holding a copy under another id, with wrong bytes) reads through the data port, and a file
 * missing from the shared root gets the data port's answer, never a short 200.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePrometheusText, sumSamples } from '@wharf/observability/testing';
import { FilesystemDriver } from '@wharf/storage';
import { http, sha256 } from '../auth/support';
import { freePort } from '../support/process';
import {
  spawnService,
  startDistributedRegistry,
  stopProcess,
  type DistributedCluster,
  type ServiceProcess,
} from '../support/distributed';

const REPO = 'onehop/app';

async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return sumSamples(parsePrometheusText(await res.text()), name, labels);
}

describe('distributed shape: blob GETs read the shared filesystem root in one hop', () => {
  let cluster: DistributedCluster;
  let gateway: string;
  const data = randomBytes(2 * 1024 * 1024 + 5);
  const digest = sha256(data);

  /** Blob reads the blob replicas served on their data port, all replicas together. */
  const dataPortReads = async (): Promise<number> => {
    let n = 0;
    for (const b of cluster.services.blob)
      n += await metric(b.url, 'wharf_http_requests_total', { route: 'internal_blob', method: 'GET' });
    return n;
  };
  const gatewayReads = (url: string, path: string) => metric(url, 'wharf_blob_reads_total', { path });

  const push = async (body: Buffer): Promise<void> => {
    const r = await http(`${gateway}/v2/${REPO}/blobs/uploads/?digest=${sha256(body)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body,
    });
    expect(r.status).toBe(201);
  };

  /** A whole GET and a Range GET of `data`, checked byte for byte. */
  const expectServed = async (url: string): Promise<void> => {
    const whole = await fetch(`${url}/v2/${REPO}/blobs/${digest}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('docker-content-digest')).toBe(digest);
    expect(Buffer.from(await whole.arrayBuffer()).equals(data)).toBe(true);
    const ranged = await fetch(`${url}/v2/${REPO}/blobs/${digest}`, {
      headers: { Range: 'bytes=1000-1999' },
    });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 1000-1999/${data.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(1000, 2000))).toBe(true);
  };

  beforeAll(async () => {
    cluster = await startDistributedRegistry({ replicas: { gateway: 1, metadata: 1, blob: 2 } });
    gateway = cluster.gateways[0];
    await push(data);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('the blob services keep an id in the root, and the gateway reads from the root, not their data port', async () => {
    const id = await new FilesystemDriver(cluster.env.WHARF_STORAGE_ROOT).readStoreId();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const before = { port: await dataPortReads(), files: await gatewayReads(gateway, 'filesystem') };
    await expectServed(gateway);
    expect(await dataPortReads()).toBe(before.port);
    expect(await gatewayReads(gateway, 'filesystem')).toBe(before.files + 2);
  });

  it('with every blob replica stopped, the gateway still serves the committed blob, whole and ranged', async () => {
    const stopped = [...cluster.services.blob];
    await Promise.all(stopped.map((b) => stopProcess(b)));
    try {
      await expectServed(gateway);
      // An upload needs the blob services: only reads of committed blobs take the short path.
      const post = await http(`${gateway}/v2/${REPO}/blobs/uploads/`, { method: 'POST' });
      expect(post.status).toBe(503);
    } finally {
      for (const b of stopped) await cluster.restart(b);
    }
  });

  it('a file missing from the shared root gets the data port answer (404 BLOB_UNKNOWN), not a short 200', async () => {
    const gone = randomBytes(512 * 1024);
    await push(gone);
    const hex = sha256(gone).slice('sha256:'.length);
    rmSync(join(cluster.env.WHARF_STORAGE_ROOT, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data'));
    const before = await dataPortReads();
    for (const range of [undefined, 'bytes=0-99']) {
      const res = await http(`${gateway}/v2/${REPO}/blobs/${sha256(gone)}`, {
        headers: range ? { Range: range } : {},
      });
      expect(res.status).toBe(404);
      expect(res.json().errors[0].code).toBe('BLOB_UNKNOWN');
    }
    expect(await dataPortReads()).toBe(before + 2);
  });

  describe('a gateway on another root', () => {
    let other: ServiceProcess;
    const otherRoot = () => join(cluster.dataDir!, 'elsewhere');

    beforeAll(async () => {
      // Another store (its own id) that happens to hold a file under the digest's path: its bytes
      // are wrong, so serving them would show.
      const root = otherRoot();
      await new FilesystemDriver(root).storeId();
      const hex = digest.slice('sha256:'.length);
      mkdirSync(join(root, 'blobs', 'sha256', hex.slice(0, 2), hex), { recursive: true });
      writeFileSync(join(root, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data'), randomBytes(data.length));
      other = await spawnService('gateway', await freePort(), { ...cluster.env, WHARF_STORAGE_ROOT: root });
    });

    afterAll(async () => {
      if (other) await stopProcess(other);
    });

    it('reads through the data port and serves the right bytes', async () => {
      const before = { port: await dataPortReads(), remote: await gatewayReads(other.url, 'data_port') };
      await expectServed(other.url);
      expect(await dataPortReads()).toBe(before.port + 2);
      expect(await gatewayReads(other.url, 'data_port')).toBe(before.remote + 2);
      expect(await gatewayReads(other.url, 'filesystem')).toBe(0);
    });
  });
});
