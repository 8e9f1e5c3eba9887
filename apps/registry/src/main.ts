import { loadConfig } from '@wharf/config';
import { tuneHeap, tuneThreadpool } from '@wharf/transport';
import { startRegistry } from './registry';

async function main(): Promise<void> {
  tuneHeap();
  tuneThreadpool();
  const config = loadConfig();
  const registry = await startRegistry(config);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    // Drain: stop accepting, let in-flight requests finish, then stop Postgres.
    registry
      .close()
      .then(() => process.exit(0))
      .catch((e) => {
        console.error(`shutdown after ${signal} failed`, e);
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
