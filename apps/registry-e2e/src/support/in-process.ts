import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '@wharf/config';
import { startRegistry } from '@wharf/registry-app';
import type { TestRegistry } from './registry';

/** A fresh database on the machine's Postgres (trust auth on 127.0.0.1:5432). */
export function createTestDatabase(): { url: string; drop(): void } {
  const name = `wharf_test_${randomBytes(6).toString('hex')}`;
  const pgEnv = {
    ...process.env,
    PGHOST: process.env.PGHOST ?? '127.0.0.1',
    PGUSER: process.env.PGUSER ?? 'postgres',
  };
  execFileSync('createdb', [name], { env: pgEnv });
  return {
    url: `postgres://${pgEnv.PGUSER}@${pgEnv.PGHOST}:5432/${name}`,
    drop: () => {
      try {
        execFileSync('dropdb', ['--force', '--if-exists', name], { env: pgEnv, stdio: 'ignore' });
      } catch {
        // A leftover test database harms nothing; the next run makes its own.
      }
    },
  };
}

export interface InProcessRegistry extends TestRegistry {
  /** Closes the registry and starts it again on the same port, database and data directory. */
  restart(): Promise<void>;
}

export async function startInProcessRegistry(env: Record<string, string> = {}): Promise<InProcessRegistry> {
  const db = createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-e2e-'));
  const settings = {
    WHARF_HTTP_ADDR: '127.0.0.1:0',
    WHARF_DATA_DIR: dataDir,
    WHARF_DATABASE_URL: db.url,
    WHARF_LOG_LEVEL: process.env.WHARF_LOG_LEVEL ?? 'warn',
    ...env,
  };
  let registry = await startRegistry(loadConfig(settings));
  const url = registry.url;
  return {
    url,
    host: new URL(url).host,
    dataDir,
    restart: async () => {
      await registry.close();
      registry = await startRegistry(loadConfig({ ...settings, WHARF_HTTP_ADDR: new URL(url).host }));
    },
    stop: async () => {
      await registry.close();
      db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
