import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Content is produced in pieces of this size; chunk sizes used by the benchmark are multiples. */
const PIECE = MiB;

let pattern: Buffer | undefined;

/** 1 MiB of incompressible bytes, the same in every process, so digests are reproducible. */
function basePattern(): Buffer {
  if (pattern) return pattern;
  const b = Buffer.allocUnsafe(PIECE);
  let block = createHash('sha256').update('wharf-bench').digest();
  for (let off = 0; off < PIECE; off += block.length) {
    block = createHash('sha256').update(block).digest();
    block.copy(b, off);
  }
  pattern = b;
  return b;
}

/**
 * Deterministic content of any size, generated piece by piece so that a 4 GiB blob never sits in
 * memory. Each piece carries `seed` and its index, so blobs of different seeds (and the pieces of
 * one blob) differ.
 */
export class Content {
  private cachedDigest?: string;

  constructor(
    readonly seed: string,
    readonly size: number,
  ) {}

  private piece(i: number): Buffer {
    const start = i * PIECE;
    const len = Math.min(PIECE, this.size - start);
    const b = Buffer.allocUnsafe(len);
    basePattern().copy(b, 0, 0, len);
    b.write(`${this.seed}:${i}:`, 0, Math.min(len, 96), 'latin1');
    return b;
  }

  /** The bytes [from, to) as a sequence of buffers (fresh ones: the consumer may hold them). */
  *slices(from = 0, to = this.size): Generator<Buffer> {
    for (let i = Math.floor(from / PIECE); i * PIECE < to; i++) {
      const start = i * PIECE;
      const p = this.piece(i);
      const a = Math.max(from, start) - start;
      const z = Math.min(to, start + p.length) - start;
      yield a === 0 && z === p.length ? p : p.subarray(a, z);
    }
  }

  /** A request body for undici: pieces are made as the socket drains, so memory stays flat. */
  body(from = 0, to = this.size): Readable {
    return Readable.from(this.slices(from, to), { objectMode: false, highWaterMark: PIECE });
  }

  digest(): string {
    if (!this.cachedDigest) {
      const h = createHash('sha256');
      for (const s of this.slices()) h.update(s);
      this.cachedDigest = `sha256:${h.digest('hex')}`;
    }
    return this.cachedDigest;
  }
}

export function sha256(buf: Buffer | string): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

export function formatBytes(n: number): string {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}

/** `1m`, `10m`, `1g`, `512k`, `4096` (bytes). */
export function parseBytes(s: string): number {
  const m = /^(\d+)([kmg]?)(?:i?b)?$/i.exec(s.trim());
  if (!m) throw new Error(`not a size: ${s}`);
  const unit = { '': 1, k: KiB, m: MiB, g: GiB }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * unit;
}
