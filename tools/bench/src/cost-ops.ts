/**
 * The operations `bench:cost` measures: what each needs pushed first, the load of its CPU window,
 * and its counting pass (a fixed number of operations while Postgres's and NATS's counters run).
 */
import { randomBytes } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { layerOf, makeImage, newPool, PULL_ACCEPT, RegistryClient, type Image } from './client';
import { Content, formatBytes, KiB } from './content';
import type { Replicas } from './distributed';
import { settleDisk } from './disk';
import { fixedCount, requester, sequentialLoad, undiciLoad, wrkLoad, type LoadOutcome } from './cost-load';
import type { CostOptions, OpId } from './cost-options';

/** A started shape the operations run against: which one, and how it was started. */
export type ClusterKey = 'cached' | 'uncached' | 'two-gateways';

export const CLUSTERS: Record<
  ClusterKey,
  { label: string; replicas: Replicas; env: Record<string, string> }
> = {
  cached: { label: '1 gw, cache on', replicas: { gateway: 1, metadata: 1, blob: 1 }, env: {} },
  uncached: {
    label: '1 gw, cache off',
    replicas: { gateway: 1, metadata: 1, blob: 1 },
    env: { WHARF_GATEWAY_CACHE_SIZE: '0' },
  },
  'two-gateways': { label: '2 gw, cache on', replicas: { gateway: 2, metadata: 1, blob: 1 }, env: {} },
};

const MANIFEST_REPO = 'cost/manifest';
const BLOB_REPO = 'cost/blob';
const PUSH_REPO = 'cost/push';
const MOVE_REPO = 'cost/move';
const MOVING_TAG = 'moving';
/** Blob GETs of the counting pass: enough that the background's jitter is small beside them. */
const BLOB_GETS_COUNTED = 5;

/** What the operations read and write, pushed before anything is measured. */
export interface Fixture {
  image: Image;
  blob?: Content;
  /** New content for every push, hashed up front so no window pays for it. */
  pushes: Content[];
  /** Two images the moving tag alternates between, and where it points now. */
  move?: { images: [Image, Image]; at: number };
}

export interface Ctx {
  /** The first gateway: every write and every loop goes through it. */
  client: RegistryClient;
  /** Every gateway: the manifest loads spread over them. */
  urls: string[];
  opts: CostOptions;
  fx: Fixture;
  /** wrk where it is installed and allowed. */
  wrk: boolean;
}

export interface OpDef {
  id: OpId;
  label: string;
  cluster: ClusterKey;
  /** Reported per operation, or per GB moved. */
  per: 'op' | 'GB';
  /** Untimed, just before the window: fills caches and connection pools. */
  warm(ctx: Ctx): Promise<void>;
  /** The CPU window's load. */
  run(ctx: Ctx): Promise<LoadOutcome>;
  /** The counting pass: makes a fixed number of operations and answers how many. */
  count(ctx: Ctx): Promise<number>;
}

/** Pushes what `ops` need: the small image always, the large blob and the moving tag's images. */
export async function seed(client: RegistryClient, ops: OpDef[], opts: CostOptions): Promise<Fixture> {
  const run = randomBytes(3).toString('hex');
  const layer = new Content(`cost-${run}-layer`, 2 * KiB);
  const image = makeImage(`cost-${run}`, [layerOf(layer)]);
  await client.pushImage(MANIFEST_REPO, 'latest', image, new Map([[layer.digest(), layer]]));
  const fx: Fixture = { image, pushes: [] };
  const ids = new Set(ops.map((o) => o.id));
  if (ids.has('blob-get')) {
    fx.blob = new Content(`cost-${run}-blob`, opts.blobSize);
    await client.pushMonolithic(BLOB_REPO, fx.blob);
  }
  if (ids.has('push')) {
    // The counting pass's pushes, then the window's.
    for (let i = 0; i < 2 * opts.pushes; i++) {
      const c = new Content(`cost-${run}-push-${i}`, opts.blobSize);
      c.digest();
      fx.pushes.push(c);
    }
  }
  if (ids.has('move-1gw') || ids.has('move-2gw')) {
    const images = ['a', 'b'].map((s) => makeImage(`cost-${run}-move-${s}`, [layerOf(layer)])) as [
      Image,
      Image,
    ];
    for (const img of images)
      await client.pushImage(
        MOVE_REPO,
        `seed-${img.digest.slice(7, 19)}`,
        img,
        new Map([[layer.digest(), layer]]),
      );
    await client.putManifest(MOVE_REPO, MOVING_TAG, images[0]);
    fx.move = { images, at: 0 };
  }
  return fx;
}

async function withPool<T>(ctx: Ctx, connections: number, fn: (pool: Dispatcher) => Promise<T>): Promise<T> {
  const pool = newPool(
    ctx.urls.map((u) => new URL(u).origin),
    connections,
  );
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

/** `n` requests, 4 at a time, every one answering 200. */
async function requests(ctx: Ctx, n: number, method: 'GET' | 'HEAD', path: string): Promise<number> {
  return withPool(ctx, 4, async (pool) => {
    const fire = requester(pool, { method, path, headers: { accept: PULL_ACCEPT } });
    return fixedCount(n, 4, async () => {
      if (!(await fire())) throw new Error(`${method} ${path}: not 200`);
    });
  });
}

function manifestOp(
  id: OpId,
  label: string,
  cluster: ClusterKey,
  method: 'GET' | 'HEAD',
  ref: (fx: Fixture) => string,
): OpDef {
  const path = (ctx: Ctx) => `/v2/${MANIFEST_REPO}/manifests/${ref(ctx.fx)}`;
  return {
    id,
    label,
    cluster,
    per: 'op',
    warm: (ctx) => requests(ctx, 100, method, path(ctx)).then(() => undefined),
    count: (ctx) => requests(ctx, ctx.opts.count, method, path(ctx)),
    run: (ctx) => {
      const { connections, threads, seconds } = ctx.opts;
      // wrk cannot do HEAD (it waits for the body Content-Length announces).
      if (ctx.wrk && method === 'GET') {
        return wrkLoad({
          urls: ctx.urls,
          path: path(ctx),
          accept: PULL_ACCEPT,
          connections,
          threads,
          seconds,
        });
      }
      return undiciLoad({
        urls: ctx.urls,
        method,
        path: path(ctx),
        headers: { accept: PULL_ACCEPT },
        concurrency: connections,
        seconds,
      });
    },
  };
}

function blobGet(ctx: Ctx): Promise<number> {
  const blob = ctx.fx.blob!;
  return ctx.client.readBlob(`/v2/${BLOB_REPO}/blobs/${blob.digest()}`, blob.size);
}

/** Moves the tag to the other image: a manifest PUT whose references are all linked already. */
async function moveTag(ctx: Ctx): Promise<number> {
  const move = ctx.fx.move!;
  move.at = 1 - move.at;
  await ctx.client.putManifest(MOVE_REPO, MOVING_TAG, move.images[move.at]);
  return 0;
}

function moveOp(id: OpId, label: string, cluster: ClusterKey): OpDef {
  return {
    id,
    label,
    cluster,
    per: 'op',
    warm: async (ctx) => {
      for (let i = 0; i < 10; i++) await moveTag(ctx);
    },
    // One at a time: its latency is the point (the acknowledged invalidation of ADR 24).
    run: (ctx) => sequentialLoad(ctx.opts.seconds, 1, () => moveTag(ctx)),
    count: async (ctx) => {
      const n = Math.max(1, Math.floor(ctx.opts.count / 2));
      for (let i = 0; i < n; i++) await moveTag(ctx);
      return n;
    },
  };
}

export function operations(opts: CostOptions): OpDef[] {
  const size = formatBytes(opts.blobSize);
  const all: OpDef[] = [
    manifestOp('get-tag', 'manifest GET by tag', 'cached', 'GET', () => 'latest'),
    manifestOp('head-tag', 'manifest HEAD by tag', 'cached', 'HEAD', () => 'latest'),
    manifestOp('get-digest', 'manifest GET by digest', 'cached', 'GET', (fx) => fx.image.digest),
    {
      id: 'blob-get',
      label: `blob GET ${size}`,
      cluster: 'cached',
      per: 'GB',
      warm: (ctx) => blobGet(ctx).then(() => undefined),
      run: (ctx) => sequentialLoad(ctx.opts.seconds, 1, () => blobGet(ctx)),
      count: async (ctx) => {
        for (let i = 0; i < BLOB_GETS_COUNTED; i++) await blobGet(ctx);
        return BLOB_GETS_COUNTED;
      },
    },
    {
      id: 'push',
      label: `monolithic push ${size}`,
      cluster: 'cached',
      per: 'GB',
      warm: async () => settleDisk(),
      run: (ctx) => {
        const contents = ctx.fx.pushes.slice(ctx.opts.pushes);
        return sequentialLoad(
          0,
          contents.length,
          async (i) => {
            await ctx.client.pushMonolithic(PUSH_REPO, contents[i]);
            return contents[i].size;
          },
          contents.length,
        );
      },
      count: async (ctx) => {
        const contents = ctx.fx.pushes.slice(0, ctx.opts.pushes);
        for (const c of contents) await ctx.client.pushMonolithic(PUSH_REPO, c);
        return contents.length;
      },
    },
    moveOp('move-1gw', 'tag move (manifest PUT), 1 gateway', 'cached'),
    manifestOp('get-tag-uncached', 'manifest GET by tag, cache off', 'uncached', 'GET', () => 'latest'),
    moveOp('move-2gw', 'tag move (manifest PUT), 2 gateways', 'two-gateways'),
  ];
  return all.filter((op) => opts.ops.includes(op.id));
}
