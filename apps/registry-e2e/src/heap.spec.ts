import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePrometheusText, sumSamples } from '@wharf/observability/testing';
import { spawnRegistry, type RegistryProcess } from './support/process';

/**
 * The built registry, started as `npm start` starts it, under push load: its heap must not settle
 * where every request's garbage starts another full collection (libs/transport's tuneHeap; before it,
 * a stream of 1 MiB pushes ran a Mark-Compact every ~100 ms), and uploads in flight must not hold
 * so many bytes that V8 starts one for external memory (BlobDriver.readAhead).
 */
describe('heap under push load', () => {
  let dir: string;
  let registry: RegistryProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-heap-'));
    // mkdtemp makes 0700; the embedded PostgreSQL runs as 'postgres' when we are root.
    chmodSync(dir, 0o755);
    registry = await spawnRegistry(join(dir, 'data'), undefined, { WHARF_LOG_LEVEL: 'warn' });
  }, 90_000);

  afterAll(async () => {
    if (registry && registry.child.exitCode === null) {
      registry.child.kill('SIGTERM');
      await registry.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  async function push(repo: string, blob: Buffer): Promise<void> {
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const started = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('location')!, registry.url);
    location.searchParams.set('digest', digest);
    const done = await fetch(location, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: blob,
    });
    expect(done.status).toBe(201);
  }

  async function gcRuns(): Promise<{ major: number; minor: number }> {
    const families = parsePrometheusText(await (await fetch(`${registry.url}/metrics`)).text());
    return {
      major: sumSamples(families, 'nodejs_gc_runs_total', { kind: 'major' }),
      minor: sumSamples(families, 'nodejs_gc_runs_total', { kind: 'minor' }),
    };
  }

  it('collects the garbage of 300 pushes of 1 MiB mostly in the young generation', async () => {
    const blobs = Array.from({ length: 8 }, () => randomBytes(1024 * 1024));
    // Until its first full collection V8 grows the heap freely; the limits that matter are the
    // ones it computes after one. An idle process gets one from V8's memory reducer ~8 s in.
    const deadline = Date.now() + 60_000;
    while ((await gcRuns()).major === 0) {
      if (Date.now() > deadline) throw new Error('no full collection in 60 s of idling');
      await new Promise((r) => setTimeout(r, 500));
    }
    for (let i = 0; i < 20; i++) await push('heap/warm', withCounter(blobs[i % 8], i));
    const before = await gcRuns();
    for (let i = 0; i < 300; i++) await push('heap/load', withCounter(blobs[i % 8], i));
    const after = await gcRuns();
    // Young collections do happen (the metric is alive); full ones stay rare.
    expect(after.minor - before.minor).toBeGreaterThan(0);
    expect(after.major - before.major).toBeLessThanOrEqual(10);
  }, 120_000);

  it('keeps 20 concurrent uploads of 16 MiB from starting full collections', async () => {
    // Off-heap bytes held by uploads in flight count against V8's external-memory step; when their
    // total swings past it, V8 starts a full collection. Each upload must hold little.
    const blob = randomBytes(16 * 1024 * 1024);
    const before = await gcRuns();
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => push(`heap/concurrent-${i}`, withCounter(blob, round * 20 + i))),
      );
    }
    const after = await gcRuns();
    expect(after.major - before.major).toBeLessThanOrEqual(3);
  }, 120_000);
});

/** A distinct blob per push (new content each time, like the benchmark) without 300 MiB of randomness. */
function withCounter(base: Buffer, i: number): Buffer {
  const b = Buffer.from(base);
  b.writeUInt32BE(i, 0);
  return b;
}
