/**
 * libuv's thread pool serves every file system call (and async crypto, DNS lookups) of the process.
 * Its default of 4 threads is too few for a registry: a push ends in fsyncs of the blob and its
 * directories that hold a thread for tens of milliseconds each, and four pushes committing at once
 * took all four threads, so every blob GET (open, stat, read, close: four trips) queued behind
 * them. Under 256 pulling connections and 4 pushers that queue made requests wait over 2 s
 * (docs/performance.md, soak). Reads get threads of their own with a larger pool; idle threads cost
 * only their stacks' address space.
 */
export const THREADPOOL_SIZE = 16;

/**
 * Sets UV_THREADPOOL_SIZE unless the operator did. libuv reads it when the pool first starts, at
 * the first file system call that goes through it, so call this first thing in a server's main.
 * Returns the size in effect.
 */
export function tuneThreadpool(env: NodeJS.ProcessEnv = process.env): number {
  const set = Number(env['UV_THREADPOOL_SIZE']);
  if (Number.isInteger(set) && set > 0) return set;
  env['UV_THREADPOOL_SIZE'] = String(THREADPOOL_SIZE);
  return THREADPOOL_SIZE;
}
