import {
  GiB,
  KiB,
  MiB,
  PARTS_PER_SIZE_STEP,
  PartLayout,
  S3_MAX_OBJECT_SIZE,
  S3_MAX_PARTS,
  S3_MAX_PART_SIZE,
  S3_MIN_PART_SIZE,
  TiB,
} from './part-layout';

describe('PartLayout (5 MiB base)', () => {
  const layout = new PartLayout(5 * MiB);

  // The largest part is what an append holds in memory while it streams that far into a layer.
  it.each([
    { layer: '1 byte', size: 1, parts: 1, largestMiB: 5 },
    { layer: '5 MiB', size: 5 * MiB, parts: 1, largestMiB: 5 },
    { layer: '5 MiB + 1 byte', size: 5 * MiB + 1, parts: 2, largestMiB: 5 },
    { layer: '1 GiB', size: 1 * GiB, parts: 205, largestMiB: 5 },
    { layer: '4 GiB', size: 4 * GiB, parts: 820, largestMiB: 5 },
    { layer: '10 GiB', size: 10 * GiB, parts: 1474, largestMiB: 10 },
    { layer: '100 GiB', size: 100 * GiB, parts: 4037, largestMiB: 80 },
    { layer: '1 TiB', size: 1 * TiB, parts: 7046, largestMiB: 640 },
    { layer: '5 TiB', size: 5 * TiB, parts: 9125, largestMiB: 5120 },
  ])('a $layer layer fits in $parts parts, the largest $largestMiB MiB', ({ size, parts, largestMiB }) => {
    expect(layout.partAt(size - 1)).toBe(parts);
    expect(layout.sizeOf(parts)).toBe(largestMiB * MiB);
    expect(layout.startOf(parts)).toBeLessThan(size);
    expect(layout.startOf(parts + 1)).toBeGreaterThanOrEqual(size);
  });

  it('10,000 parts hold more than the 5 TiB S3 object limit, so the limit is the object size', () => {
    expect(layout.startOf(S3_MAX_PARTS + 1)).toBeGreaterThan(S3_MAX_OBJECT_SIZE);
    expect(layout.maxUploadSize).toBe(S3_MAX_OBJECT_SIZE);
    expect(layout.partAt(S3_MAX_OBJECT_SIZE - 1)).toBeLessThanOrEqual(S3_MAX_PARTS);
  });

  it('a fixed 5 MiB part would stop at 48.8 GiB, which is why parts grow', () => {
    expect((S3_MAX_PARTS * S3_MIN_PART_SIZE) / GiB).toBeCloseTo(48.83, 2);
    expect(layout.partAt(100 * GiB)).toBeLessThan(S3_MAX_PARTS);
  });

  it('every part is within S3 limits and parts never shrink', () => {
    const wrong: number[] = [];
    for (let n = 1; n <= S3_MAX_PARTS; n++) {
      const size = layout.sizeOf(n);
      const ok =
        size >= S3_MIN_PART_SIZE && size <= S3_MAX_PART_SIZE && (n === 1 || size >= layout.sizeOf(n - 1));
      if (!ok) wrong.push(n);
    }
    expect(wrong).toEqual([]);
  });

  it('parts are 5 MiB for the first 900 and double every 900 after, up to 5 GiB', () => {
    expect(layout.sizeOf(1)).toBe(5 * MiB);
    expect(layout.sizeOf(PARTS_PER_SIZE_STEP)).toBe(5 * MiB);
    expect(layout.sizeOf(PARTS_PER_SIZE_STEP + 1)).toBe(10 * MiB);
    expect(layout.sizeOf(2 * PARTS_PER_SIZE_STEP + 1)).toBe(20 * MiB);
    expect(layout.sizeOf(S3_MAX_PARTS)).toBe(5 * GiB);
  });

  it('part boundaries are contiguous, and partAt inverts startOf at every boundary', () => {
    const wrong: number[] = [];
    let start = 0;
    for (let n = 1; n <= S3_MAX_PARTS; n++) {
      const ok =
        layout.startOf(n) === start &&
        layout.partAt(start) === n &&
        (n === 1 || layout.partAt(start - 1) === n - 1);
      if (!ok) wrong.push(n);
      start += layout.sizeOf(n);
    }
    expect(wrong).toEqual([]);
    expect(layout.startOf(S3_MAX_PARTS + 1)).toBe(start);
  });

  it('an offset past 10,000 parts maps to part 10,001, which no upload may reach', () => {
    expect(layout.partAt(layout.startOf(S3_MAX_PARTS + 1))).toBe(S3_MAX_PARTS + 1);
    expect(() => layout.sizeOf(S3_MAX_PARTS + 1)).toThrow(RangeError);
  });
});

describe('PartLayout with other bases', () => {
  it('a 64 KiB test base cuts 200 parts in the first 12.5 MiB', () => {
    const layout = new PartLayout(64 * KiB);
    expect(layout.startOf(201)).toBe(200 * 64 * KiB);
    expect(layout.maxUploadSize).toBe(layout.startOf(S3_MAX_PARTS + 1));
  });

  it('a base near 5 GiB is capped at 5 GiB and still never exceeds the object limit', () => {
    const layout = new PartLayout(4 * GiB);
    expect(layout.sizeOf(PARTS_PER_SIZE_STEP + 1)).toBe(5 * GiB);
    expect(layout.maxUploadSize).toBe(S3_MAX_OBJECT_SIZE);
  });

  it.each([0, -1, 1.5, 5 * GiB + 1, Number.NaN])('rejects a base of %d bytes', (base) => {
    expect(() => new PartLayout(base)).toThrow(RangeError);
  });

  it('rejects part numbers and offsets outside the layout', () => {
    const layout = new PartLayout(5 * MiB);
    expect(() => layout.sizeOf(0)).toThrow(RangeError);
    expect(() => layout.startOf(S3_MAX_PARTS + 2)).toThrow(RangeError);
    expect(() => layout.partAt(-1)).toThrow(RangeError);
    expect(() => layout.partAt(0.5)).toThrow(RangeError);
  });
});

// Keeps the table above honest: a 5 TiB layer must fit whatever the step constant becomes.
it('a 5 TiB layer needs fewer than 10,000 parts', () => {
  expect(new PartLayout(5 * MiB).partAt(5 * TiB - 1)).toBeLessThan(S3_MAX_PARTS);
});
