import { parseContentRange, parseRange, parseResolvedRange } from './http-ranges';

describe('parseRange (blob GET)', () => {
  it.each([
    ['a closed range', 'bytes=500-1499', 2048, { start: 500, end: 1499 }],
    ['an open range', 'bytes=500-', 2048, { start: 500, end: 2047 }],
    ['a suffix range', 'bytes=-500', 2048, { start: 1548, end: 2047 }],
    ['a suffix longer than the blob', 'bytes=-5000', 2048, { start: 0, end: 2047 }],
    ['an end past the blob, clamped', 'bytes=2000-5000', 2048, { start: 2000, end: 2047 }],
    ['a single byte', 'bytes=0-0', 1, { start: 0, end: 0 }],
    ['the last byte', 'bytes=2047-2047', 2048, { start: 2047, end: 2047 }],
    ['a case-insensitive unit', 'Bytes=1-2', 10, { start: 1, end: 2 }],
    ['surrounding whitespace', '  bytes= 1-2 ', 10, { start: 1, end: 2 }],
    ['an end beyond 2^53, clamped', 'bytes=1-99999999999999999999999', 10, { start: 1, end: 9 }],
    ['a suffix beyond 2^53', 'bytes=-99999999999999999999999', 10, { start: 0, end: 9 }],
  ])('serves %s', (_label, header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it.each([
    ['start after end', 'bytes=500-0', 2048],
    ['start at the size', 'bytes=2048-', 2048],
    ['start beyond the size', 'bytes=5000-10000', 2048],
    ['a start beyond 2^53', 'bytes=99999999999999999999-', 2048],
    ['a zero-length suffix', 'bytes=-0', 2048],
    ['any range of an empty blob', 'bytes=0-', 0],
    ['a suffix of an empty blob', 'bytes=-1', 0],
  ])('answers unsatisfiable for %s', (_label, header, size) => {
    expect(parseRange(header, size)).toBe('unsatisfiable');
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['no numbers', 'bytes=-'],
    ['another unit', 'items=0-1'],
    ['no unit', '0-1'],
    ['several ranges', 'bytes=0-1,5-6'],
    ['a negative start', 'bytes=--1'],
    ['letters', 'bytes=a-b'],
    ['a Content-Range form', 'bytes 0-1/10'],
  ])('ignores %s (serve the whole blob)', (_label, header) => {
    expect(parseRange(header, 2048)).toBeUndefined();
  });
});

describe('parseContentRange (upload PATCH)', () => {
  it.each([
    ['the OCI form', '0-1023', { start: 0, end: 1023 }],
    ['a bytes prefix', 'bytes 1024-2047', { start: 1024, end: 2047 }],
    ['a total', 'bytes 0-9/10', { start: 0, end: 9 }],
    ['an unknown total', 'bytes 0-9/*', { start: 0, end: 9 }],
    ['a single byte', '5-5', { start: 5, end: 5 }],
    ['the largest safe integer', `0-${Number.MAX_SAFE_INTEGER}`, { start: 0, end: Number.MAX_SAFE_INTEGER }],
  ])('reads %s', (_label, header, expected) => {
    expect(parseContentRange(header)).toEqual(expected);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['start after end', '10-9'],
    ['an open range', '0-'],
    ['a suffix', '-10'],
    ['a negative number', '-1-5'],
    ['a Range-style prefix', 'bytes=0-9'],
    ['letters', 'a-b'],
    ['several ranges', '0-1,2-3'],
    ['a bad total', 'bytes 0-9/x'],
    ['a number beyond 2^53', `0-${Number.MAX_SAFE_INTEGER + 2}`],
    ['a huge start', '99999999999999999999-99999999999999999999'],
  ])('rejects %s', (_label, header) => {
    expect(parseContentRange(header)).toBeNull();
  });
});

describe('parseResolvedRange (a range one service asks another for)', () => {
  it.each([
    ['a closed range', 'bytes=500-1499', { start: 500, end: 1499 }],
    ['a single byte', 'bytes=0-0', { start: 0, end: 0 }],
    [
      'the largest safe integer',
      `bytes=0-${Number.MAX_SAFE_INTEGER}`,
      { start: 0, end: Number.MAX_SAFE_INTEGER },
    ],
  ])('reads %s', (_label, header, expected) => {
    expect(parseResolvedRange(header)).toEqual(expected);
  });

  it.each([
    ['an empty header', ''],
    ['an open range', 'bytes=500-'],
    ['a suffix range', 'bytes=-500'],
    ['start after end', 'bytes=10-9'],
    ['several ranges', 'bytes=0-1,5-6'],
    ['no unit', '0-1'],
    ['a number beyond 2^53', `bytes=0-${Number.MAX_SAFE_INTEGER + 2}`],
  ])('rejects %s', (_label, header) => {
    expect(parseResolvedRange(header)).toBeNull();
  });
});
