import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WharfConfig } from '@wharf/config';
import { startEmbeddedPostgres } from '@wharf/embedded-postgres';

/** A database URL for the CLI, and what to do when done with it. */
export interface CliDatabase {
  url: string;
  release(): Promise<void>;
}

/**
 * WHARF_DATABASE_URL when set. Otherwise the all-in-one's embedded server: the running one (its
 * postmaster.pid names the port; the registry must not lose its database under it), or, when the
 * registry is stopped, one started for the command and stopped after.
 */
export async function openCliDatabase(config: WharfConfig): Promise<CliDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl, release: async () => undefined };
  const dataDir = join(config.dataDir, 'postgres');
  const running = runningPort(dataDir);
  if (running) {
    const password = readFileSync(join(dataDir, 'wharf-superuser.password'), 'utf8').trim();
    return {
      url: `postgres://wharf:${password}@127.0.0.1:${running}/wharf`,
      release: async () => undefined,
    };
  }
  const pg = await startEmbeddedPostgres({ dataDir });
  return { url: pg.url, release: () => pg.stop() };
}

/** The port of a live postmaster owning `dataDir` (postmaster.pid: pid, dir, start, port, ...). */
function runningPort(dataDir: string): number | undefined {
  let lines: string[];
  try {
    lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return port;
}
