/*
 * Part-size arithmetic for uploads of unknown final size.
 *
 * S3 assembles an object from at most 10,000 parts of 5 MiB to 5 GiB each (the last may be
 * smaller), and an object holds at most 5 TiB. A registry learns a layer's size only when the
 * client finishes pushing it, so the part size cannot be chosen from the size. A fixed 5 MiB part
 * caps a layer at 10,000 x 5 MiB = 48.8 GiB; a fixed part large enough for 5 TiB (525 MiB) would
 * buffer 525 MiB per upload in flight even for a 10 KiB layer.
 *
 * So parts grow with their number: part n holds `base * 2^floor((n - 1) / 900)` bytes, capped at
 * 5 GiB. With the default 5 MiB base, layers up to 4.4 GiB use 5 MiB parts, up to 13.2 GiB
 * 10 MiB parts, up to 30.8 GiB 20 MiB parts, and 10,000 parts hold 9.27 TiB, past S3's 5 TiB
 * object limit. The part size (the memory an append holds) grows only for layers that need it.
 *
 * Part boundaries are a pure function of the byte offset and the base size, which the upload
 * handle records, so every replica cuts the same upload at the same offsets whatever its own
 * configuration says.
 */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

export const S3_MIN_PART_SIZE = 5 * MiB;
export const S3_MAX_PART_SIZE = 5 * GiB;
export const S3_MAX_PARTS = 10_000;
export const S3_MAX_OBJECT_SIZE = 5 * TiB;

/** Parts per size step; 900 is the largest round number for which 10,000 5 MiB-based parts reach 5 TiB with margin. */
export const PARTS_PER_SIZE_STEP = 900;

export class PartLayout {
  /** Bytes the largest upload may hold: 10,000 parts, and never more than one S3 object. */
  readonly maxUploadSize: number;

  constructor(readonly baseSize: number) {
    if (!Number.isSafeInteger(baseSize) || baseSize < 1 || baseSize > S3_MAX_PART_SIZE) {
      throw new RangeError(`part size must be an integer from 1 byte to 5 GiB: ${baseSize}`);
    }
    this.maxUploadSize = Math.min(this.startOf(S3_MAX_PARTS + 1), S3_MAX_OBJECT_SIZE);
  }

  /** Size of part `n` (1-based) when full. */
  sizeOf(n: number): number {
    assertPartNumber(n, S3_MAX_PARTS);
    return this.stepSize(Math.floor((n - 1) / PARTS_PER_SIZE_STEP));
  }

  /** Offset of the first byte of part `n`; `startOf(10_001)` is the size of 10,000 full parts. */
  startOf(n: number): number {
    assertPartNumber(n, S3_MAX_PARTS + 1);
    let before = n - 1;
    let offset = 0;
    for (let step = 0; before > 0; step++) {
      const count = Math.min(before, PARTS_PER_SIZE_STEP);
      offset += count * this.stepSize(step);
      before -= count;
    }
    return offset;
  }

  /**
   * The part that holds byte `offset`. An offset on a boundary belongs to the part it starts, so
   * `partAt(size)` is the part the next appended byte goes to.
   */
  partAt(offset: number): number {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`invalid offset ${offset}`);
    let first = 1;
    let start = 0;
    for (let step = 0; ; step++) {
      const size = this.stepSize(step);
      const stepBytes = size * PARTS_PER_SIZE_STEP;
      if (offset < start + stepBytes) return first + Math.floor((offset - start) / size);
      first += PARTS_PER_SIZE_STEP;
      start += stepBytes;
    }
  }

  private stepSize(step: number): number {
    // 2 ** step overflows nothing here: past step 30 the cap has long applied.
    return Math.min(this.baseSize * 2 ** Math.min(step, 32), S3_MAX_PART_SIZE);
  }
}

function assertPartNumber(n: number, max: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new RangeError(`invalid part number ${n}`);
}
