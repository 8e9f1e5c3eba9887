import { setFlagsFromString } from 'node:v8';

/**
 * The old generation may grow to three times what survived the last full collection before the
 * next one starts (V8 would pick 1.1x to 4x from its own measurements).
 *
 * Why: with V8's own choice a running registry settles at about 1.3x of a ~36 MiB live heap, and
 * once the space left under that limit is smaller than the young generation (16 MiB semi-spaces
 * after a burst of requests), V8 starts the next incremental full marking as soon as the last one
 * finished. Under a stream of small pushes that was a Mark-Compact every ~100 ms, each marking the
 * whole heap: half the process's CPU per 1 MiB push went to it (docs/adr/0015-heap-growing-factor.md).
 * Twice the live heap as headroom keeps the young generation's collections (cheap: requests'
 * garbage dies young) doing the work, at the price of tens of MiB of garbage left standing.
 */
export const HEAP_GROWING_PERCENT = 200;

/** V8 flags that size the heap: an operator who sets any of them has chosen, and is not overridden. */
const HEAP_SIZING_FLAGS = [
  'heap-growing-percent',
  'initial-old-space-size',
  'initial-heap-size',
  'max-semi-space-size',
  'min-semi-space-size',
  'semi-space-growth-factor',
];

/** True when the node command line or NODE_OPTIONS already carries a heap-sizing flag. */
export function heapSizedByOperator(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env['NODE_OPTIONS'] ?? '',
): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => {
    // V8 accepts --a_b for --a-b.
    const name = /^--([\w-]+)/.exec(arg)?.[1]?.replace(/_/g, '-');
    return name !== undefined && HEAP_SIZING_FLAGS.includes(name);
  });
}

/**
 * Sets the heap's growing factor for a long-running service (see HEAP_GROWING_PERCENT), unless the
 * operator sized the heap on the command line. Call first thing in a server's main: V8 reads the
 * factor each time it recomputes its limits, so setting it at run time takes effect from the next
 * full collection (other heap flags are fixed when the heap is set up and cannot be set here).
 * Returns whether it set the flag.
 */
export function tuneHeap(execArgv?: readonly string[], nodeOptions?: string): boolean {
  if (heapSizedByOperator(execArgv, nodeOptions)) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
