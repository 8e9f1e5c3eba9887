/**
 * A 1 GiB layer pushed and pulled through the distributed shape with blobs in S3 (the S3 test
 * server), as a client does it: one streamed PATCH, the closing PUT, one GET. The gateway's and the
 * blob service's resident memory must not grow with the layer: each holds at most a part (5 MiB)
 * and a few stream buffers. WHARF_E2E_LARGE_LAYER_MIB shrinks the layer for a quick local loop.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { startDistributedRegistry, type DistributedCluster } from '../support/distributed';
import { RegistryClient, randomBlob, withQuery } from '../api/support/client';

const MiB = 1024 * 1024;
const LAYER_MIB = Number(process.env.WHARF_E2E_LARGE_LAYER_MIB ?? 1024);
// Measured 40-50 MiB for 1 GiB (and 25-35 MiB for 256 MiB): room for GC timing, not for a buffered layer.
const RSS_GROWTH_LIMIT = 150 * MiB;

describe('distributed shape: a 1 GiB layer through S3 in bounded memory', () => {
  let cluster: DistributedCluster;
  let client: RegistryClient;

  beforeAll(async () => {
    cluster = await startDistributedRegistry({
      storage: 's3',
      replicas: { gateway: 1, metadata: 1, blob: 1 },
    });
    client = new RegistryClient(cluster.gateways[0]);
    // Warm both paths up (JIT, pools, first S3 connections) so the baseline is a running service.
    const warm = randomBlob(6 * MiB);
    const digest = await client.pushBlob('big/warm', warm);
    expect((await client.get(`/v2/big/warm/blobs/${digest}`)).body.equals(warm)).toBe(true);
  });

  afterAll(async () => {
    client?.close();
    await cluster?.stop();
  });

  it(`a ${LAYER_MIB} MiB layer pushed in one streamed PATCH pulls back with its digest`, async () => {
    const repo = 'big/layer';
    const total = LAYER_MIB * MiB;
    const pids = {
      gateway: cluster.services.gateway[0].child.pid!,
      blob: cluster.services.blob[0].child.pid!,
    };
    const samplers = Object.fromEntries(
      Object.entries(pids).map(([role, pid]) => [role, new PeakRss(pid).start()]),
    );
    try {
      await pushAndPull(repo, total, samplers);
    } finally {
      for (const s of Object.values(samplers)) s.cancel();
    }
  }, 600_000);

  async function pushAndPull(repo: string, total: number, samplers: Record<string, PeakRss>): Promise<void> {
    const started = Date.now();
    const session = await client.post(`/v2/${repo}/blobs/uploads/`);
    expect(session.status).toBe(202);
    const { source, digest } = generatedLayer(total);
    const patch = await streamRequest(client.baseUrl, 'PATCH', session.location, source);
    expect(patch.status).toBe(202);
    expect(patch.headers.range).toBe(`0-${total - 1}`);
    const next = new URL(patch.headers.location as string, client.baseUrl);
    const put = await client.put(withQuery(next.pathname + next.search, { digest: await digest }));
    expect(put.status).toBe(201);
    const pushMs = Date.now() - started;

    const pullStarted = Date.now();
    const pulled = await streamDigest(`${client.baseUrl}/v2/${repo}/blobs/${await digest}`);
    const pullMs = Date.now() - pullStarted;
    expect(pulled).toEqual({ status: 200, size: total, digest: await digest });

    const growth = Object.fromEntries(
      Object.entries(samplers).map(([role, s]) => [role, s.stop()]),
    ) as Record<string, { before: number; peak: number }>;
    const mib = (n: number) => (n / MiB).toFixed(1);
    console.log(
      `${LAYER_MIB} MiB layer via gateway+blob+S3: push ${(((total / MiB) * 1000) / pushMs) | 0} MiB/s ` +
        `(${(pushMs / 1000).toFixed(1)} s, commit included), pull ${(((total / MiB) * 1000) / pullMs) | 0} MiB/s; ` +
        Object.entries(growth)
          .map(([role, g]) => `${role} RSS ${mib(g.before)} -> peak ${mib(g.peak)} MiB`)
          .join(', '),
    );
    for (const [role, g] of Object.entries(growth)) {
      expect({ role, growthOk: g.peak - g.before < RSS_GROWTH_LIMIT }).toEqual({ role, growthOk: true });
    }
  }
});

/**
 * `total` bytes made from one random MiB (each MiB numbered, so no two are alike), hashed as they
 * are produced; the digest resolves once the stream has ended.
 */
function generatedLayer(total: number): { source: Readable; digest: Promise<string> } {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  let produced = 0;
  let done: (d: string) => void;
  const digest = new Promise<string>((resolve) => (done = resolve));
  const source = new Readable({
    highWaterMark: MiB,
    read() {
      if (produced >= total) {
        done(`sha256:${hash.digest('hex')}`);
        return void this.push(null);
      }
      const chunk = Buffer.allocUnsafe(Math.min(MiB, total - produced));
      block.copy(chunk, 0, 0, chunk.length);
      chunk.writeUInt32BE(produced / MiB, 0);
      hash.update(chunk);
      produced += chunk.length;
      this.push(chunk);
    },
  });
  return { source, digest };
}

/** A request with a chunked, streamed body (as docker and containerd PATCH a layer). */
function streamRequest(
  base: string,
  method: string,
  path: string,
  body: Readable,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), {
      method,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    body.on('error', reject);
    body.pipe(req);
  });
}

/** GETs `url` and hashes the body as it streams (never held whole). */
function streamDigest(url: string): Promise<{ status: number; size: number; digest: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      const hash = createHash('sha256');
      let size = 0;
      res.on('data', (c: Buffer) => {
        hash.update(c);
        size += c.length;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, size, digest: `sha256:${hash.digest('hex')}` }),
      );
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/**
 * Peak resident memory of another process: VmRSS sampled every 50 ms and, where the kernel lets us
 * reset it (root, Linux >= 4.0), VmHWM, so a spike between two samples still counts.
 */
class PeakRss {
  readonly before: number;
  private peak = 0;
  private hwmReset = false;
  private timer?: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.before = this.read('VmRSS');
  }

  start(): this {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      this.hwmReset = true;
    } catch {
      // Not permitted here: sampling alone.
    }
    this.timer = setInterval(() => {
      try {
        this.peak = Math.max(this.peak, this.read('VmRSS'));
      } catch {
        // The process is gone: the test fails on its requests, stop() on its own read.
      }
    }, 50);
    return this;
  }

  cancel(): void {
    clearInterval(this.timer);
  }

  stop(): { before: number; peak: number } {
    clearInterval(this.timer);
    const hwm = this.hwmReset ? this.read('VmHWM') : 0;
    return { before: this.before, peak: Math.max(this.peak, this.read('VmRSS'), hwm) };
  }

  private read(field: 'VmRSS' | 'VmHWM'): number {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${this.pid}/status`, 'latin1'),
    );
    if (!m) throw new Error(`no ${field} for process ${this.pid}`);
    return Number(m[1]) * 1024;
  }
}
