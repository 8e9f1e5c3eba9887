/**
 * Read-your-writes across replicas (DESIGN.md; issue 15): once a manifest PUT that moved a tag has
 * answered 201 through any gateway, every gateway serves the new digest; once a DELETE has answered
 * 202, no gateway serves what it deleted. Checked under load (pullers on both gateways the whole
 * time), with a metadata replica killed mid-run, and with one gateway's NATS connection cut: a
 * gateway that cannot be sure what it would serve is current must fail the request (5xx), never
 * answer stale, and must come back by itself once NATS is reachable again.
 *
 * Every read is checked against the moves that had answered 201 when it started (support/stale-reads).
 */
import {
  startDistributedRegistry,
  type DistributedCluster,
  type ServiceProcess,
} from '../support/distributed';
import {
  MT,
  RegistryClient,
  expectError,
  expectHeadError,
  randomBlob,
  sha256,
  type Response,
} from '../api/support/client';
import {
  ACCEPT,
  MovePool,
  TagHistory,
  attempt,
  moveTag,
  readBack,
  sleep,
  startPullers,
  type Gateway,
} from '../support/stale-reads';

/**
 * Long enough for a write that waits out a cut replica's lease, short enough that a request lost
 * with a killed replica (or a cut connection) fails in seconds rather than the default 30.
 */
const NATS_TIMEOUT_MS = 8_000;
/** How long a gateway stays cut off NATS: past any lease it holds. */
const CUT_MS = 5_000;
/** After restore(), the cut gateway serves current data again within this. */
const RECOVERY_MS = 10_000;
/** A write through the healthy gateway while the other is cut may wait out its lease, not more. */
const WRITE_BOUND_MS = 10_000;
/**
 * Between one puller's reads. Eight pullers reading back to back take nearly all of two cores and
 * leave the writer a ninth of them; paced, they still keep reads in flight on both gateways at
 * every write, which is what can race with an invalidation.
 */
const PULL_PAUSE_MS = 20;

function report(what: string, fields: Record<string, unknown>): void {
  console.log(`${what}: ${JSON.stringify(fields)}`);
}

describe('distributed shape: read-your-writes across replicas', () => {
  let cluster: DistributedCluster;
  let a: Gateway;
  let b: Gateway;
  /** [writer, reader] for move i: A→B, then B→A. */
  const pair = (i: number): [Gateway, Gateway] => (i % 2 === 0 ? [a, b] : [b, a]);

  beforeAll(async () => {
    // Gateway B reaches NATS through a proxy the cut tests control; until then it passes everything.
    cluster = await startDistributedRegistry({
      natsProxy: { role: 'gateway', index: 1 },
      env: { WHARF_NATS_TIMEOUT: `${NATS_TIMEOUT_MS}ms` },
    });
    a = { name: 'A', client: new RegistryClient(cluster.gateways[0]) };
    b = { name: 'B', client: new RegistryClient(cluster.gateways[1]) };
  }, 120_000);

  afterAll(async () => {
    cluster?.natsProxy?.restore();
    a?.client.close();
    b?.client.close();
    await cluster?.stop();
  }, 60_000);

  it('1,000 tag moves, each read at once through the other gateway, under 8 pullers: zero stale reads', async () => {
    const history = new TagHistory('ryw/moves', 't');
    const pool = await MovePool.push(a.client, history.repo);
    const pullers = startPullers(history, [a, b], 8, () => false, PULL_PAUSE_MS);
    const started = Date.now();
    const writeMs: number[] = [];
    try {
      for (let i = 0; i < 1000 && !history.broken; i++) {
        const [writer, reader] = pair(i);
        writeMs.push((await moveTag(history, pool, i, writer.client)).ms);
        await readBack(history, reader);
      }
    } finally {
      await pullers.stop();
    }
    report('1,000 moves', {
      ms: Date.now() - started,
      reads: history.counts.reads,
      putMaxMs: Math.max(...writeMs),
      violations: history.violations.length,
    });
    expect(history.violations).toEqual([]);
    expect(history.committed).toBe(999);
  }, 180_000);

  it('a DELETE answered 202 through one gateway is seen at once through the other: tag, manifest, blob link', async () => {
    const repo = 'ryw/deletes';
    const pool = await MovePool.push(a.client, repo);
    const watch = startDeleteWatchers([a, b], 8, PULL_PAUSE_MS);
    const tagged = async (writer: Gateway, tag: string, i: number): Promise<string> => {
      const manifest = pool.manifest(i);
      expect((await writer.client.putManifest(repo, tag, manifest, MT.ociManifest)).status).toBe(201);
      return sha256(manifest);
    };
    const expectServed = async (reader: Gateway, path: string, digest: string): Promise<void> => {
      // Twice each, so whatever a gateway would cache, it holds.
      for (const method of ['get', 'head', 'get', 'head'] as const) {
        const res = await reader.client[method](path, ACCEPT);
        expect({ path, method, status: res.status, digest: res.header('docker-content-digest') }).toEqual({
          path,
          method,
          status: 200,
          digest,
        });
      }
    };
    const remove = async (writer: Gateway, path: string): Promise<void> => {
      watch.target(path);
      const res = await writer.client.delete(path);
      expect({ path, status: res.status }).toEqual({ path, status: 202 });
      watch.deleted();
    };
    try {
      for (let i = 0; i < 10; i++) {
        const [writer, reader] = pair(i);
        // A tag: gone for the other gateway, the manifest it named is not.
        const tagPath = `/v2/${repo}/manifests/tag-${i}`;
        const kept = await tagged(writer, `tag-${i}`, i);
        await expectServed(reader, tagPath, kept);
        await remove(writer, tagPath);
        await expectGone(reader, tagPath, 'MANIFEST_UNKNOWN');
        await expectServed(reader, `/v2/${repo}/manifests/${kept}`, kept);

        // A manifest by digest: gone, and so is the tag that named it.
        const digest = await tagged(writer, `m-${i}`, 1000 + i);
        const byDigest = `/v2/${repo}/manifests/${digest}`;
        await expectServed(reader, byDigest, digest);
        await expectServed(reader, `/v2/${repo}/manifests/m-${i}`, digest);
        await remove(writer, byDigest);
        await expectGone(reader, byDigest, 'MANIFEST_UNKNOWN');
        await expectGone(reader, `/v2/${repo}/manifests/m-${i}`, 'MANIFEST_UNKNOWN');

        // A blob link.
        const blob = randomBlob(200 + i);
        const blobPath = `/v2/${repo}/blobs/${await writer.client.pushBlob(repo, blob)}`;
        for (const method of ['get', 'head', 'get', 'head'] as const) {
          expect((await reader.client[method](blobPath)).status).toBe(200);
        }
        await remove(writer, blobPath);
        await expectGone(reader, blobPath, 'BLOB_UNKNOWN');
      }
    } finally {
      await watch.stop();
    }
    report('deletes', { reads: watch.reads(), violations: watch.violations.length });
    expect(watch.violations).toEqual([]);
  }, 120_000);

  it('300 moves while a metadata replica is killed (SIGKILL) mid-run: no 201 is ever followed by a stale read', async () => {
    const history = new TagHistory('ryw/kill', 't');
    const pool = await MovePool.push(a.client, history.repo);
    const pullers = startPullers(history, [a, b], 8, () => true, PULL_PAUSE_MS);
    const victim = cluster.services.metadata[0];
    let restarted: Promise<ServiceProcess> | undefined;
    const failures: string[] = [];
    const started = Date.now();
    try {
      for (let i = 0; i < 300 && !history.broken; i++) {
        // A few milliseconds into the move, so the PUT (or a puller's read) is surely in flight.
        if (i === 100) setTimeout(() => victim.child.kill('SIGKILL'), 3);
        if (i === 200) restarted = victim.exited.then(() => cluster.restart(victim));
        const [writer, reader] = pair(i);
        failures.push(...(await moveTag(history, pool, i, writer.client, true)).failures);
        await readBack(history, reader, true);
      }
    } finally {
      await pullers.stop();
      await restarted;
    }
    expect(await victim.exited).toBe('SIGKILL');
    // Both metadata replicas up again: nothing fails any more.
    for (let i = 300; i < 310; i++) {
      const [writer, reader] = pair(i);
      await moveTag(history, pool, i, writer.client);
      await readBack(history, reader);
    }
    report('300 moves, metadata killed', {
      ms: Date.now() - started,
      reads: history.counts.reads,
      readsFailed: history.counts.unavailable,
      writesFailed: failures.length,
      violations: history.violations.length,
    });
    expect(history.violations).toEqual([]);
  }, 180_000);

  // sever: the connection is destroyed (B's client sees a disconnect); blackhole: nothing gets
  // through, and is delivered late on restore; blackhole-drop: nothing gets through, and is lost.
  describe.each(['sever', 'blackhole', 'blackhole-drop'] as const)('gateway B cut off NATS: %s', (mode) => {
    it('writes through A succeed, B never serves stale, and B recovers by itself once NATS is back', async () => {
      const proxy = cluster.natsProxy!;
      const history = new TagHistory(`ryw/cut-${mode}`, 't');
      const pool = await MovePool.push(a.client, history.repo);
      let i = 0;
      for (; i < 4; i++) {
        const [writer, reader] = pair(i);
        await moveTag(history, pool, i, writer.client);
        await readBack(history, reader);
      }
      // B has just served the tag, so whatever it caches holds it when the cut starts.
      await readBack(history, b);
      const pullers = startPullers(history, [a, b], 8, (gw) => gw === 'B', PULL_PAUSE_MS);
      const readsOfB: Promise<unknown>[] = [];
      // Clients of their own, so reads left hanging by the cut hold none of the shared client's sockets.
      const cutReader = new RegistryClient(cluster.gateways[1]);
      const prober = { name: 'B', client: new RegistryClient(cluster.gateways[1]) };
      const writeMs: number[] = [];
      if (mode === 'sever') proxy.sever();
      else proxy.blackhole({ drop: mode === 'blackhole-drop' });
      const cutAt = Date.now();
      try {
        while (Date.now() - cutAt < CUT_MS && !history.broken) {
          writeMs.push((await moveTag(history, pool, i++, a.client)).ms);
          await readBack(history, a);
          const floor = history.committed;
          for (const method of ['get', 'head'] as const) {
            const where = `${method.toUpperCase()} tag via B during the cut, right after move ${floor}`;
            readsOfB.push(
              attempt(cutReader[method](history.path, ACCEPT)).then((res) =>
                history.checkTagRead(where, floor, res, true),
              ),
            );
          }
          await sleep(100);
        }
      } finally {
        proxy.restore();
      }
      const recoveryMs = await firstCurrentRead(history, prober);
      prober.client.close();
      // Back to normal, both ways: writes through B too, no failure allowed.
      for (let k = 0; k < 6; k++, i++) {
        const [writer, reader] = pair(k);
        await moveTag(history, pool, i, writer.client);
        await readBack(history, reader);
      }
      await pullers.stop();
      await Promise.all(readsOfB);
      cutReader.close();
      report(`cut: ${mode}`, {
        writesDuringCut: writeMs.length,
        writeMaxMs: Math.max(...writeMs),
        recoveryMs,
        reads: history.counts.reads,
        readsFailed: history.counts.unavailable,
        natsConnections: proxy.connections,
        violations: history.violations.length,
      });
      expect(history.violations).toEqual([]);
      expect(writeMs.length).toBeGreaterThan(0);
      expect(Math.max(...writeMs)).toBeLessThanOrEqual(WRITE_BOUND_MS);
      expect(recoveryMs).toBeLessThanOrEqual(RECOVERY_MS);
    }, 90_000);
  });
});

/** GET and HEAD of `path` through `reader` both answer 404, the GET with the spec's error body. */
async function expectGone(reader: Gateway, path: string, code: string): Promise<void> {
  for (const method of ['get', 'head'] as const) {
    const res = await reader.client[method](path, ACCEPT);
    expect({ method, path, via: reader.name, status: res.status }).toEqual({
      method,
      path,
      via: reader.name,
      status: 404,
    });
    if (method === 'get') expectError(res, 404, code);
    else expectHeadError(res, 404);
  }
}

/**
 * After restore(): probes B every 200 ms until one answers 200 with the current digest, and returns
 * how long after restore() that answer came (Infinity if none did within the bound). Each probe is
 * still checked: a probe may fail, never be stale.
 */
async function firstCurrentRead(history: TagHistory, gw: Gateway): Promise<number> {
  const start = Date.now();
  const floor = history.committed;
  const probes: Promise<void>[] = [];
  let recovered: number | undefined;
  while (recovered === undefined && Date.now() - start < RECOVERY_MS + NATS_TIMEOUT_MS) {
    probes.push(
      attempt(gw.client.get(history.path, ACCEPT)).then((res) => {
        if (history.checkTagRead(`GET tag via ${gw.name} after restore`, floor, res, true))
          recovered ??= Date.now() - start;
      }),
    );
    await sleep(200);
  }
  await Promise.all(probes);
  return recovered ?? Infinity;
}

/**
 * Pullers that keep reading (GET and HEAD) whatever is about to be deleted, through every gateway:
 * a read that starts after the DELETE answered 202 must answer 404.
 */
function startDeleteWatchers(gateways: Gateway[], n: number, pauseMs: number) {
  let current: { path: string; gone: boolean } | undefined;
  let stopped = false;
  let reads = 0;
  const violations: string[] = [];
  const watchers = Array.from({ length: n }, async (_, i) => {
    for (let k = i; !stopped; k++) {
      const seen = current;
      if (!seen) {
        await sleep(5);
        continue;
      }
      const gone = seen.gone;
      const gw = gateways[k % gateways.length];
      const method = k % 4 < 2 ? 'get' : 'head';
      const res: Response | Error = await attempt(gw.client[method](seen.path, ACCEPT));
      reads++;
      const status = res instanceof Error ? res.message : res.status;
      if (gone && status !== 404 && violations.length < 50)
        violations.push(
          `${method.toUpperCase()} ${seen.path} via ${gw.name} after its DELETE answered 202: ${status}`,
        );
      await sleep(pauseMs);
    }
  });
  return {
    violations,
    reads: () => reads,
    target: (path: string) => void (current = { path, gone: false }),
    deleted: () => void (current!.gone = true),
    stop: async () => {
      stopped = true;
      await Promise.all(watchers);
    },
  };
}
