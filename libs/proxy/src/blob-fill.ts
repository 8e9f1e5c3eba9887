import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { BlobApi, BlobLink, MetadataApi } from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';
import type { ProxyMetrics } from './proxy-metrics';
import type { ProxyTarget } from './proxy-names';
import { UpstreamError, type UpstreamClient } from './upstream-client';

/** Where a fill this gateway leads streams to, as the bytes arrive: the client that asked. */
export interface BlobSink {
  res: ServerResponse;
  /** The answer's headers, Content-Length aside (the upstream's length goes in). */
  headers: OutgoingHttpHeaders;
}

export interface BlobFillOptions {
  /** How long a claim to fetch a blob outlives a gateway that died holding it. */
  leaseMs: number;
  /** How often a gateway waiting for another's fetch looks for the result. */
  pollMs: number;
  /** How long a waiting gateway waits for another's fetch before it answers an error. */
  waitMs: number;
}

const DEFAULTS: BlobFillOptions = { leaseMs: 30_000, pollMs: 150, waitMs: 30 * 60_000 };

/**
 * Fills blobs of mirrored repositories from their upstream, one fetch per blob: within a process
 * the callers share one promise; across gateways a lease in the metadata service (claimFill) picks
 * the one that fetches while the others wait for its link. The leader writes the bytes into an
 * upload that verifies the digest at commit, and streams them to its client as they arrive, holding
 * back the last chunk until its own hash says they are right: a client never receives all of a blob
 * whose bytes do not match its digest, and nothing that does not match is stored.
 */
export class BlobFills {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly opts: BlobFillOptions;

  constructor(
    private readonly metadata: MetadataApi,
    private readonly blobs: BlobApi,
    private readonly clientOf: (upstream: string) => UpstreamClient,
    private readonly metrics: ProxyMetrics,
    private readonly holder: string,
    opts: Partial<BlobFillOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /**
   * Makes `digest` a blob of `t.local`: linked from any repository that has it, else fetched. With
   * `sink`, a fetch this call leads also answers the client; 'streamed' says it did.
   */
  async ensure(t: ProxyTarget, digest: string, sink?: BlobSink): Promise<BlobLink | 'streamed'> {
    const deadline = Date.now() + this.opts.waitMs;
    const mount = () => this.metadata.mountBlob({ repository: t.local, digest, proxied: true });
    for (;;) {
      const running = this.inFlight.get(digest);
      if (running) {
        // Another request of this process is at it: its outcome (or its error) is ours.
        await running;
        const linked = await mount();
        if (linked) return linked;
        continue;
      }
      // Taken before the first await, so this process never asks for its own claim twice.
      let done!: () => void;
      let failed!: (e: unknown) => void;
      const mine = new Promise<void>((resolve, reject) => ((done = resolve), (failed = reject)));
      mine.catch(() => undefined);
      this.inFlight.set(digest, mine);
      try {
        // Both at once: a blob another repository holds is linked, and the claim given back.
        const [linked, { claimed }] = await Promise.all([
          mount(),
          this.metadata.claimFill({ key: digest, holder: this.holder, ttlMs: this.opts.leaseMs }),
        ]);
        if (linked || claimed) {
          try {
            if (linked) return linked;
            let streamed = false;
            const link = await this.fetch(t, digest, sink, () => (streamed = true));
            return streamed ? 'streamed' : link;
          } finally {
            if (claimed)
              void this.metadata.releaseFill({ key: digest, holder: this.holder }).catch(() => undefined);
          }
        }
      } catch (e) {
        failed(e);
        throw e;
      } finally {
        this.inFlight.delete(digest);
        done();
      }
      // Another gateway fetches it: wait for its link.
      if (Date.now() > deadline) {
        throw new UpstreamError(
          t.upstream.name,
          'unavailable',
          `another gateway's fetch of ${digest} did not finish`,
        );
      }
      await new Promise((r) => setTimeout(r, this.opts.pollMs));
    }
  }

  private async fetch(
    t: ProxyTarget,
    digest: string,
    sink: BlobSink | undefined,
    onStreaming: () => void,
  ): Promise<BlobLink> {
    const name = t.upstream.name;
    // The claim is renewed while the bytes flow, so a long layer keeps it and a dead gateway loses it.
    const renew = setInterval(
      () =>
        void this.metadata
          .claimFill({ key: digest, holder: this.holder, ttlMs: this.opts.leaseMs })
          .catch(() => undefined),
      Math.max(1000, Math.floor(this.opts.leaseMs / 3)),
    );
    renew.unref();
    try {
      // The upload session opens while the upstream answers: one round trip less before the first byte.
      const opening = this.blobs.startUpload({ repository: t.local });
      const fetching = this.clientOf(name).getBlob(t.remote, digest);
      const [opened, fetched] = await Promise.allSettled([opening, fetching]);
      if (opened.status === 'rejected' || fetched.status === 'rejected') {
        if (fetched.status === 'fulfilled') fetched.value.body.destroy();
        if (opened.status === 'fulfilled')
          void this.blobs.cancelUpload({ repository: t.local, id: opened.value.id }).catch(() => undefined);
        throw fetched.status === 'rejected' ? fetched.reason : (opened as PromiseRejectedResult).reason;
      }
      const { size, body } = fetched.value;
      this.metrics.miss(name);
      const known = Number.isSafeInteger(size) && size >= 0;
      const res = sink && known ? sink.res : undefined;
      if (res && sink) {
        res.writeHead(200, { ...sink.headers, 'Content-Length': size });
        onStreaming();
      }
      const stat = await this.store(t, digest, opened.value.id, body, known ? size : undefined, res);
      await this.metadata.linkBlob({ repository: t.local, digest, size: stat.size, proxied: true });
      return stat;
    } catch (e) {
      if (e instanceof UpstreamError) this.metrics.errors.inc([name, e.failure]);
      // Once the answer has begun, only cutting it says it failed; before, the handler answers.
      if (sink?.res.headersSent) sink.res.destroy();
      throw e;
    } finally {
      clearInterval(renew);
    }
  }

  /**
   * Copies the upstream's bytes into an upload and to `res` (while the client stays), then commits;
   * the client's last chunk goes out once the bytes hash to the digest.
   */
  private async store(
    t: ProxyTarget,
    digest: string,
    uploadId: string,
    body: Readable,
    size: number | undefined,
    res: ServerResponse | undefined,
  ): Promise<BlobLink> {
    const toStore = new PassThrough({ highWaterMark: 1 << 20 });
    // Destroyed with the reason when the copy fails: heard by the store's reader, if it listens yet.
    toStore.on('error', () => undefined);
    const committed = this.blobs.completeUpload({
      repository: t.local,
      id: uploadId,
      digest,
      chunk: { body: toStore, ...(size !== undefined ? { length: size } : {}) },
    });
    // If the store fails first, the copy below stops at its next wait instead of hanging.
    const storeFailed = committed.then(
      () => new Promise<never>(() => undefined),
      (e: unknown) => {
        throw e;
      },
    );
    storeFailed.catch(() => undefined);
    let clientOpen = res !== undefined;
    res?.once('close', () => (clientOpen = false));
    let held: Buffer | undefined;
    let fetched = 0;
    // Hashed here too, so the client's last chunk waits for the digest only, not for the store's
    // durable commit (tens of ms of fsync per layer on a cold pull).
    const hash = res && digest.startsWith('sha256:') ? createHash('sha256') : undefined;
    const counter = this.metrics.bytes.seriesFor([t.upstream.name]);
    try {
      // Events rather than `for await`: a promise per chunk costs a third of the throughput here.
      await new Promise<void>((resolve, reject) => {
        let waiting = 0;
        const resume = (): void => {
          if (--waiting === 0) body.resume();
        };
        const wait = (ready: Promise<unknown>): void => {
          if (waiting++ === 0) body.pause();
          void ready.then(resume, reject);
        };
        body.on('data', (chunk: Buffer) => {
          fetched += chunk.length;
          counter.value += chunk.length;
          hash?.update(chunk);
          if (!toStore.write(chunk)) wait(Promise.race([once(toStore, 'drain'), storeFailed]));
          if (res && clientOpen) {
            if (held && !res.write(held)) wait(drainedOrClosed(res));
            held = chunk;
          }
        });
        body.once('end', resolve);
        body.once('error', reject);
        storeFailed.catch(reject);
      });
      if (size !== undefined && fetched !== size) {
        throw new UpstreamError(
          t.upstream.name,
          'unavailable',
          `blob ${digest} ended after ${fetched} of ${size} bytes`,
        );
      }
      if (hash && `sha256:${hash.digest('hex')}` !== digest) throw corrupt(t, digest);
      toStore.end();
      if (res && clientOpen) res.end(held);
      return await committed;
    } catch (e) {
      body.destroy();
      // With an error: the store's reader listens for one, and would wait forever for a quiet end.
      toStore.destroy(e instanceof Error ? e : new Error(String(e)));
      await committed.catch(() => undefined);
      await this.blobs.cancelUpload({ repository: t.local, id: uploadId }).catch(() => undefined);
      if (e instanceof RegistryError && e.errors[0]?.code === 'DIGEST_INVALID') throw corrupt(t, digest);
      throw e;
    }
  }
}

function corrupt(t: ProxyTarget, digest: string): UpstreamError {
  return new UpstreamError(
    t.upstream.name,
    'corrupt',
    `blob ${digest} from the upstream does not match its digest`,
  );
}

/** Resolves when `w` can take more, or is gone; leaves no listener behind either way. */
function drainedOrClosed(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}
