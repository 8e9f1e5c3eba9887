import { heapSizedByOperator, tuneHeap } from './heap';

describe('heapSizedByOperator', () => {
  it('is false for a plain start', () => {
    expect(heapSizedByOperator([], '')).toBe(false);
    expect(heapSizedByOperator(['--enable-source-maps'], '--max-old-space-size=4096')).toBe(false);
  });

  it('sees heap-sizing flags on the command line, in NODE_OPTIONS, and in either spelling', () => {
    expect(heapSizedByOperator(['--heap-growing-percent=50'], '')).toBe(true);
    expect(heapSizedByOperator(['--initial_old_space_size=256'], '')).toBe(true);
    expect(heapSizedByOperator([], '--enable-source-maps --max-semi-space-size=2')).toBe(true);
    expect(heapSizedByOperator(['--min-semi-space-size', '4'], '')).toBe(true);
  });
});

describe('tuneHeap', () => {
  it('sets the growing factor on a plain start and leaves an operator-sized heap alone', () => {
    expect(tuneHeap(['--max-semi-space-size=2'], '')).toBe(false);
    // Sets the flag in this test worker too, which only changes when its full collections run.
    expect(tuneHeap([], '')).toBe(true);
  });
});
