import { createCipheriv, createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Pool, request, type Dispatcher } from 'undici';
import { PULL_ACCEPT, RegistryClient, layerOf, makeImage, type Descriptor, type Image } from './client';
import { Content, MiB, sha256 } from './content';

/**
 * Pseudo-random content (the AES-256-CTR keystream of a key derived from `seed`): incompressible and
 * unlike any other seed's in every byte, where Content repeats one pattern behind a per-MiB label.
 * A registry that dedups or compresses below the blob level cannot make these images cheaper than a
 * real image's. Streamed in pieces like Content, so layers of any size never sit in memory.
 */
export class RandomContent extends Content {
  private readonly key: Buffer;

  constructor(seed: string, size: number) {
    super(seed, size);
    this.key = createHash('sha256').update(`wharf-bench-random:${seed}`).digest();
  }

  override *slices(from = 0, to = this.size): Generator<Buffer> {
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64BE(BigInt(Math.floor(from / 16)), 8);
    const cipher = createCipheriv('aes-256-ctr', this.key, iv);
    let skip = from % 16;
    for (let at = from; at < to;) {
      const n = Math.min(MiB, to - at);
      const out = cipher.update(Buffer.alloc(n + skip));
      yield skip ? out.subarray(skip) : out;
      at += n;
      skip = 0;
    }
  }
}

export interface SeededImage {
  repo: string;
  tag: string;
  image: Image;
  /** Manifest, config and layers: what a pull reads. */
  bytes: number;
}

/** Pushes an image of `layers` random layers of `layerSize` bytes (and a config) to `repo:tag`. */
export async function seedImage(
  client: RegistryClient,
  repo: string,
  tag: string,
  seed: string,
  layers: number,
  layerSize: number,
): Promise<SeededImage> {
  const contents = Array.from(
    { length: layers },
    (_, i) => new RandomContent(`${seed}/layer-${i}`, layerSize),
  );
  const image = makeImage(seed, contents.map(layerOf));
  await client.pushImage(repo, tag, image, new Map(contents.map((c) => [c.digest(), c])));
  return { repo, tag, image, bytes: pullBytes(image) };
}

export function pullBytes(image: Image): number {
  return image.manifest.length + image.config.size + image.layers.reduce((n, l) => n + l.size, 0);
}

export interface PullResult {
  bytes: number;
  seconds: number;
  /** Where a slow pull spends its time: the manifest GET, ... */
  manifestSeconds: number;
  /** ... the longest wait of a blob GET for its first byte, ... */
  firstByteSeconds: number;
  /** ... and the longest wait of a blob GET for its end after its previous chunk. */
  lastChunkSeconds: number;
}

interface BlobTimes {
  bytes: number;
  firstByte: number;
  lastChunk: number;
}

const REDIRECTS = [301, 302, 303, 307, 308];

/**
 * One `docker pull` of `repo:tag` from the registry at `url`: the manifest by tag, then the config
 * and the layers, `downloads` at a time (docker's max-concurrent-downloads), each read to the end and
 * its sha256 checked, on connections of its own as a new client process would open. Throws when
 * anything differs from `expect`. Redirects (a blob answered from object storage) are followed.
 */
export async function pullImage(url: string, repo: string, tag: string, expect: Image, downloads: number) {
  const origin = new URL(url).origin;
  const pool = new Pool(origin, { connections: downloads, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
  try {
    const t0 = performance.now();
    const mpath = `/v2/${repo}/manifests/${tag}`;
    const m = await pool.request({ method: 'GET', path: mpath, headers: { accept: PULL_ACCEPT } });
    const manifest = Buffer.from(await m.body.arrayBuffer());
    if (m.statusCode !== 200)
      throw new Error(`GET ${mpath}: ${m.statusCode} ${manifest.toString().slice(0, 300)}`);
    const digest = sha256(manifest);
    const header = m.headers['docker-content-digest'];
    if (header !== undefined && header !== digest) {
      throw new Error(`GET ${mpath}: Docker-Content-Digest ${String(header)}, body is ${digest}`);
    }
    if (digest !== expect.digest)
      throw new Error(`GET ${mpath}: manifest ${digest}, pushed ${expect.digest}`);
    const parsed = JSON.parse(manifest.toString()) as { config: Descriptor; layers: Descriptor[] };
    const manifestSeconds = (performance.now() - t0) / 1000;
    const queue = [parsed.config, ...parsed.layers];
    const blobs: BlobTimes[] = [];
    const worker = async () => {
      for (let d = queue.shift(); d; d = queue.shift()) blobs.push(await readBlob(pool, origin, repo, d));
    };
    await Promise.all(Array.from({ length: Math.min(downloads, queue.length) }, worker));
    return {
      bytes: blobs.reduce((n, b) => n + b.bytes, manifest.length),
      seconds: (performance.now() - t0) / 1000,
      manifestSeconds,
      firstByteSeconds: Math.max(...blobs.map((b) => b.firstByte)),
      lastChunkSeconds: Math.max(...blobs.map((b) => b.lastChunk)),
    } satisfies PullResult;
  } finally {
    await pool.close();
  }
}

async function readBlob(pool: Pool, origin: string, repo: string, d: Descriptor): Promise<BlobTimes> {
  const t0 = performance.now();
  let target = new URL(`/v2/${repo}/blobs/${d.digest}`, origin);
  for (let hop = 0; ; hop++) {
    const res: Dispatcher.ResponseData =
      target.origin === origin
        ? await pool.request({ method: 'GET', path: target.pathname + target.search })
        : await request(target);
    if (REDIRECTS.includes(res.statusCode) && hop < 5) {
      await res.body.dump();
      target = new URL(String(res.headers['location']), target);
      continue;
    }
    if (res.statusCode !== 200) {
      const text = (await res.body.text()).slice(0, 300);
      throw new Error(`GET ${target.pathname}: ${res.statusCode} ${text}`);
    }
    const hash = createHash('sha256');
    let n = 0;
    let first: number | undefined;
    let previous = performance.now();
    let lastChunk = 0;
    for await (const chunk of res.body) {
      const now = performance.now();
      first ??= now;
      lastChunk = now - previous;
      previous = now;
      hash.update(chunk as Buffer);
      n += (chunk as Buffer).length;
    }
    const got = `sha256:${hash.digest('hex')}`;
    if (n !== d.size || got !== d.digest) {
      throw new Error(`GET ${target.pathname}: ${n} bytes hashing to ${got}, expected ${d.size} bytes`);
    }
    return { bytes: n, firstByte: ((first ?? previous) - t0) / 1000, lastChunk: lastChunk / 1000 };
  }
}

/** The sum of every series of a Prometheus counter at `url`/metrics; undefined when unreadable. */
export async function scrapeCounter(url: string, name: string): Promise<number | undefined> {
  try {
    const res = await request(`${new URL(url).origin}/metrics`);
    const text = await res.body.text();
    if (res.statusCode !== 200) return undefined;
    // A counter with labels has no series before its first increment; its TYPE line says it exists.
    let known = false;
    let sum = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(`# TYPE ${name} `)) known = true;
      if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
        known = true;
        sum += Number(line.split(' ').pop());
      }
    }
    return known ? sum : undefined;
  } catch {
    return undefined;
  }
}
