/**
 * Read-your-writes checks for one tag moved by a single writer. Every read, whoever makes it and
 * whenever, is checked against the moves that had answered 201 when the read started: it may see
 * that move or a later one (a PUT in flight may already be visible), never an earlier one.
 */
import {
  MT,
  RegistryClient,
  buildImage,
  sha256,
  type BuiltImage,
  type Response,
} from '../api/support/client';

export const ACCEPT = { Accept: [MT.ociManifest, MT.dockerManifest].join(', ') };

/** A failure the client saw: a 5xx, or a connection that broke. Never a wrong answer. */
export function isUnavailable(res: Response | Error): boolean {
  return res instanceof Error || res.status >= 500;
}

export class TagHistory {
  private readonly seqOf = new Map<string, number>();
  private readonly digests: string[] = [];
  /** The last move that answered 201 (-1: none yet). */
  committed = -1;
  readonly violations: string[] = [];
  readonly counts = { reads: 0, unavailable: 0 };

  constructor(
    readonly repo: string,
    readonly tag: string,
  ) {}

  get path(): string {
    return `/v2/${this.repo}/manifests/${this.tag}`;
  }

  /** The digest of the last move that answered 201. */
  get latest(): string {
    return this.digests[this.committed];
  }

  /** Registers the next move before its PUT is sent: a read may see it before the 201 arrives. */
  next(digest: string): number {
    this.seqOf.set(digest, this.digests.length);
    this.digests.push(digest);
    return this.digests.length - 1;
  }

  commit(seq: number): void {
    this.committed = Math.max(this.committed, seq);
  }

  /** A GET or HEAD by tag that started when move `floor` had answered 201. */
  checkTagRead(where: string, floor: number, res: Response | Error, allowUnavailable: boolean): boolean {
    this.counts.reads++;
    if (res instanceof Error || res.status >= 500) return this.unavailable(where, res, allowUnavailable);
    if (res.status !== 200) {
      if (floor >= 0) this.violation(`${where}: ${res.describe()} after move ${floor} answered 201`);
      return floor < 0;
    }
    const digest = res.header('docker-content-digest') ?? '';
    const seq = this.seqOf.get(digest);
    if (seq === undefined) return this.violation(`${where}: served ${digest}, which no move put`);
    if (seq < floor) return this.violation(`${where}: STALE move ${seq} after move ${floor} answered 201`);
    if (res.body.length > 0 && sha256(res.body) !== digest)
      return this.violation(`${where}: body does not hash to ${digest}`);
    return true;
  }

  /** A GET by digest of a manifest that was put (none is ever deleted in a moves repository). */
  checkDigestRead(where: string, digest: string, res: Response | Error, allowUnavailable: boolean): boolean {
    this.counts.reads++;
    if (res instanceof Error || res.status >= 500) return this.unavailable(where, res, allowUnavailable);
    if (res.status !== 200) return this.violation(`${where}: ${res.describe()} for ${digest}`);
    if (res.header('docker-content-digest') !== digest || sha256(res.body) !== digest)
      return this.violation(`${where}: asked for ${digest}, got ${res.header('docker-content-digest')}`);
    return true;
  }

  private unavailable(where: string, res: Response | Error, allowed: boolean): boolean {
    this.counts.unavailable++;
    if (!allowed) {
      const what = res instanceof Error ? res.message : res.describe();
      this.violation(`${where}: failed where no fault was injected: ${what}`);
    }
    return false;
  }

  /** Enough seen to diagnose: a loop may stop early rather than collect more. */
  get broken(): boolean {
    return this.violations.length >= 50;
  }

  violation(what: string): false {
    // Enough to diagnose; a broken run would otherwise collect thousands.
    if (this.violations.length < 50) this.violations.push(what);
    return false;
  }
}

/** Never throws: a broken connection is an answer too (the client saw it fail). */
export async function attempt(p: Promise<Response>): Promise<Response | Error> {
  return p.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
}

export interface Gateway {
  name: string;
  client: RegistryClient;
}

/**
 * `n` pullers, each alternating GET by tag and GET by the latest digest over the gateways, until
 * stopped. `allowUnavailable(gateway)` says where a fault is being injected. `pauseMs` between a
 * puller's reads leaves the writer some of a small machine: reads stay in flight all the time.
 */
export function startPullers(
  history: TagHistory,
  gateways: Gateway[],
  n: number,
  allowUnavailable: (gateway: string) => boolean,
  pauseMs = 0,
): { stop(): Promise<void> } {
  let stopped = false;
  const pullers = Array.from({ length: n }, async (_, i) => {
    for (let k = i; !stopped; k++) {
      const gw = gateways[k % gateways.length];
      const floor = history.committed;
      let ok: boolean;
      // Every kind of read through every gateway, whatever their number.
      if (Math.floor(k / gateways.length) % 2 === 0 || floor < 0) {
        const res = await attempt(gw.client.get(history.path, ACCEPT));
        ok = history.checkTagRead(`puller GET tag via ${gw.name}`, floor, res, allowUnavailable(gw.name));
      } else {
        const digest = history.latest;
        const res = await attempt(gw.client.get(`/v2/${history.repo}/manifests/${digest}`, ACCEPT));
        ok = history.checkDigestRead(
          `puller GET digest via ${gw.name}`,
          digest,
          res,
          allowUnavailable(gw.name),
        );
      }
      // A replica that refuses at once must not turn the loop into a busy spin.
      if (!ok) await sleep(50);
      else if (pauseMs) await sleep(pauseMs);
    }
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(pullers);
    },
  };
}

/**
 * Small images whose blobs are pushed once; every move then only PUTs a manifest, made unique by an
 * annotation, so a thousand moves cost a thousand manifest PUTs and nothing else.
 */
export class MovePool {
  private constructor(
    private readonly images: BuiltImage[],
    private readonly nonce: string,
  ) {}

  static async push(client: RegistryClient, repo: string, size = 4): Promise<MovePool> {
    const images = Array.from({ length: size }, () => buildImage());
    for (const image of images) {
      for (const blob of [image.configBlob, ...image.layerBlobs]) await client.pushBlob(repo, blob);
    }
    return new MovePool(images, sha256(String(Math.random())).slice(7, 19));
  }

  manifest(i: number): Buffer {
    const base = this.images[i % this.images.length];
    return buildImage({
      config: base.configBlob,
      layers: base.layerBlobs,
      annotations: { 'org.example.move': `${this.nonce}-${i}` },
    }).manifest;
  }
}

export interface MoveResult {
  seq: number;
  digest: string;
  /** Failed attempts the client saw (5xx or broken connection) before the 201. */
  failures: string[];
  ms: number;
}

/**
 * PUTs move `i` and waits for its 201. Failures the client sees are retried (same bytes, so the
 * retry is idempotent) when `retry` is set, and thrown otherwise; anything but 201 or a failure
 * is thrown at once.
 */
export async function moveTag(
  history: TagHistory,
  pool: MovePool,
  i: number,
  writer: RegistryClient,
  retry = false,
): Promise<MoveResult> {
  const manifest = pool.manifest(i);
  const seq = history.next(sha256(manifest));
  const started = Date.now();
  const failures: string[] = [];
  for (;;) {
    const res = await attempt(writer.putManifest(history.repo, history.tag, manifest, MT.ociManifest));
    if (!(res instanceof Error) && res.status === 201) break;
    const what = res instanceof Error ? res.message : res.describe();
    if (!isUnavailable(res) || !retry || failures.length >= 40)
      throw new Error(`move ${seq}: PUT answered ${what} (earlier failures: ${failures.join('; ')})`);
    failures.push(what);
    await sleep(250);
  }
  history.commit(seq);
  return { seq, digest: sha256(manifest), failures, ms: Date.now() - started };
}

/**
 * A GET and a HEAD by tag right after a move, through `reader`: both must serve the move's digest.
 * With `retry`, failures the client sees are retried (each answer is still checked).
 */
export async function readBack(history: TagHistory, reader: Gateway, retry = false): Promise<void> {
  for (const method of ['get', 'head'] as const) {
    for (let n = 0; ; n++) {
      const floor = history.committed;
      const res = await attempt(reader.client[method](history.path, ACCEPT));
      const where = `${method.toUpperCase()} tag via ${reader.name} right after move ${floor}`;
      if (history.checkTagRead(where, floor, res, retry) || !retry || !isUnavailable(res)) break;
      if (n >= 40) {
        history.violation(`${where}: still failing after ${n + 1} tries`);
        break;
      }
      await sleep(250);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
