import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WharfConfig } from '@wharf/config';
import { dataDirOwner, lockDataDir, startEmbeddedPostgres } from '@wharf/embedded-postgres';

/** A database URL for the CLI, and what to do when done with it. */
export interface CliDatabase {
  url: string;
  release(): Promise<void>;
}

/** How long to wait for a running registry's database to come (back) up. */
const ATTACH_TIMEOUT_MS = 30_000;

/**
 * WHARF_DATABASE_URL when set. Otherwise the all-in-one's embedded server: the running registry's
 * (its postmaster.pid names the port; the registry must not lose its database under it, so the
 * CLI never takes the lock of a live registry), or, when no registry runs, one started for the
 * command under the data directory lock — a registry started meanwhile is refused — and stopped after.
 */
export async function openCliDatabase(config: WharfConfig): Promise<CliDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl, release: async () => undefined };
  const dataDir = join(config.dataDir, 'postgres');
  const attach = (port: number): CliDatabase => {
    const password = readFileSync(join(dataDir, 'wharf-superuser.password'), 'utf8').trim();
    return { url: `postgres://wharf:${password}@127.0.0.1:${port}/wharf`, release: async () => undefined };
  };
  const owner = dataDirOwner(config.dataDir);
  if (owner) {
    // The registry may be starting, or restarting its database: wait for it rather than fail.
    const deadline = Date.now() + ATTACH_TIMEOUT_MS;
    for (;;) {
      const port = runningPort(dataDir);
      if (port) return attach(port);
      if (!dataDirOwner(config.dataDir) || Date.now() > deadline) {
        throw new Error(
          `the ${owner.role} with pid ${owner.pid} holds ${config.dataDir}, but its database did not come up ` +
            `within ${ATTACH_TIMEOUT_MS / 1000} s`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  // Starting an empty cluster for an admin command would only hide a mistyped directory.
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    throw new Error(
      `WHARF_DATA_DIR: no registry data in ${config.dataDir} (no ${join(dataDir, 'PG_VERSION')}); ` +
        `point WHARF_DATA_DIR at the registry's data directory, or set WHARF_DATABASE_URL`,
    );
  }
  const lock = lockDataDir(config.dataDir, 'admin CLI');
  try {
    const pg = await startEmbeddedPostgres({ dataDir });
    return {
      url: pg.url,
      release: async () => {
        await pg.stop();
        lock.release();
      },
    };
  } catch (e) {
    lock.release();
    throw e;
  }
}

/**
 * The port of a live postmaster owning `dataDir` that accepts connections (postmaster.pid: pid, dir,
 * start, port, socket dir, listen address, shmem key, status).
 */
function runningPort(dataDir: string): number | undefined {
  let lines: string[];
  try {
    lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  if (lines[7] !== undefined && lines[7].trim() !== 'ready') return undefined; // starting or stopping
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return port;
}
