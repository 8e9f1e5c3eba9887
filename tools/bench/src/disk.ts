import { spawnSync } from 'node:child_process';

/**
 * Writes every dirty page out before a write-heavy cell (untimed). Without it the previous cell's
 * writes are still being flushed while this one runs, and they land on whichever side runs next:
 * worst for a registry that fsyncs what it acknowledges, since its syncs queue behind them.
 */
export function settleDisk(): void {
  spawnSync('sync');
}
