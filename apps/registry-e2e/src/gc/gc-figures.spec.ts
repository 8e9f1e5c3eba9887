/**
 * GC figures for the closing note (opt-in: WHARF_GC_FIGURES=1): collection throughput (objects
 * and bytes per second), and push latency with the collector idle and while it works through a
 * backlog, side by side in one run. Every push and pull must still succeed.
 */
import { randomBlob } from '../api/support/client';
import { settle, sleep, startGcRegistry, type GcRegistry } from './support';

const BACKLOG_IMAGES = Number(process.env.WHARF_GC_FIGURES_IMAGES ?? 300);
const LAYER_BYTES = 64 * 1024;
const PUSHES = 40;

const figures = process.env.WHARF_GC_FIGURES ? describe : describe.skip;

figures('GC figures', () => {
  let r: GcRegistry;

  beforeAll(async () => {
    // The worker runs only when told, so "idle" and "collecting" are exactly that.
    r = await startGcRegistry({ WHARF_GC_ENABLED: 'false' });
  }, 60_000);

  afterAll(() => r.stop());

  async function backlog(repo: string): Promise<void> {
    for (let i = 0; i < BACKLOG_IMAGES; i++)
      await r.client.pushImage(repo, { layers: [randomBlob(LAYER_BYTES), randomBlob(LAYER_BYTES)] });
    await sleep(r.delayMs + 100);
  }

  async function timedPushes(tagPrefix: string): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < PUSHES; i++) {
      const t = performance.now();
      await r.client.pushImage('figures/live', {
        tag: `${tagPrefix}${i}`,
        layers: [randomBlob(LAYER_BYTES), randomBlob(LAYER_BYTES)],
      });
      times.push(performance.now() - t);
    }
    return times;
  }

  it('measures collection throughput and push latency, idle vs collecting', async () => {
    // 1. Throughput: one worker drains a backlog with nothing else going on.
    await backlog('figures/a');
    const before = await r.sql('SELECT blobs_deleted, bytes_freed, manifests_deleted FROM metadata.gc_state');
    let t = performance.now();
    await settle(r, 0);
    const seconds = (performance.now() - t) / 1000;
    const after = await r.sql('SELECT blobs_deleted, bytes_freed, manifests_deleted FROM metadata.gc_state');
    const manifests = Number(after[0].manifests_deleted) - Number(before[0].manifests_deleted);
    const blobs = Number(after[0].blobs_deleted) - Number(before[0].blobs_deleted);
    const bytes = Number(after[0].bytes_freed) - Number(before[0].bytes_freed);
    expect(manifests).toBe(BACKLOG_IMAGES);
    expect(blobs).toBe(BACKLOG_IMAGES * 3);

    // 2. Push latency with the collector idle, then while it collects a second backlog.
    const idle = await timedPushes('idle-');
    await backlog('figures/b');
    let collecting = true;
    t = performance.now();
    const collector = settle(r, 0).finally(() => (collecting = false));
    const busy = await timedPushes('busy-');
    const overlapped = collecting;
    await collector;
    const busySeconds = (performance.now() - t) / 1000;

    const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * q)];
    const row = (name: string, xs: number[]) =>
      `${name.padEnd(16)} p50 ${p(xs, 0.5).toFixed(1)} ms  p95 ${p(xs, 0.95).toFixed(1)} ms  max ${Math.max(...xs).toFixed(1)} ms`;
    process.stdout.write(
      [
        `GC throughput: ${manifests} manifests + ${blobs} blobs (${(bytes / 2 ** 20).toFixed(1)} MiB) in ${seconds.toFixed(2)} s`,
        `  = ${((manifests + blobs) / seconds).toFixed(0)} objects/s, ${(bytes / 2 ** 20 / seconds).toFixed(1)} MiB/s`,
        `push of a 3-blob image (2 x 64 KiB layers), ${PUSHES} sequential pushes each:`,
        `  ${row('GC idle', idle)}`,
        `  ${row('GC collecting', busy)}${overlapped ? '' : ' (collector finished before the pushes)'}`,
        `  second backlog collected in ${busySeconds.toFixed(2)} s while pushing`,
        '',
      ].join('\n'),
    );
    expect(idle).toHaveLength(PUSHES);
    expect(busy).toHaveLength(PUSHES);
  }, 600_000);
});
