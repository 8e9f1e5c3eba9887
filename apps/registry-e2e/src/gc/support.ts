import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '@wharf/config';
import { GcWorker } from '@wharf/metadata';
import { startRegistry, type RunningRegistry } from '@wharf/registry-app';
import { RegistryClient } from '../api/support/client';
import { createTestDatabase } from '../support/in-process';

/** An all-in-one registry with a short review delay, and direct looks at its database and disk. */
export interface GcRegistry {
  url: string;
  client: RegistryClient;
  databaseUrl: string;
  dataDir: string;
  /** WHARF_GC_REVIEW_DELAY in milliseconds. */
  delayMs: number;
  running: RunningRegistry;
  /** The registry's own worker. */
  worker: GcWorker;
  /** A connection of the test's own, for looking at (never changing) the metadata schema. */
  sql(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  blobOnDisk(digest: string): boolean;
  stop(): Promise<void>;
}

export async function startGcRegistry(env: Record<string, string> = {}): Promise<GcRegistry> {
  const db = createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-gc-'));
  // Long enough for a push to finish on a loaded 2-core machine, short enough for tests.
  const config = loadConfig({
    WHARF_HTTP_ADDR: '127.0.0.1:0',
    WHARF_DATA_DIR: dataDir,
    WHARF_DATABASE_URL: db.url,
    WHARF_LOG_LEVEL: process.env.WHARF_LOG_LEVEL ?? 'warn',
    WHARF_GC_REVIEW_DELAY: '2s',
    WHARF_GC_INTERVAL: '100ms',
    ...env,
  });
  const running = await startRegistry(config);
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  const client = new RegistryClient(running.url);
  return {
    url: running.url,
    client,
    databaseUrl: db.url,
    dataDir,
    delayMs: config.gc.reviewDelayMs,
    running,
    worker: running.app.get(GcWorker),
    sql: async (text, params) => (await pg.query(text, params)).rows as Record<string, unknown>[],
    blobOnDisk: (digest) => {
      const [alg, hex] = digest.split(':');
      return existsSync(join(dataDir, 'blobs', 'blobs', alg, hex.slice(0, 2), hex, 'data'));
    },
    stop: async () => {
      client.close();
      await pg.end();
      await running.close();
      db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Lets everything written so far come due (the review delay), then runs passes until no review
 * is due and no byte deletion is pending: what the collector would ever do about it is done.
 */
export async function settle(r: GcRegistry, waitMs = r.delayMs + 100): Promise<void> {
  await sleep(waitMs);
  for (let i = 0; i < 50; i++) {
    await r.worker.runOnce();
    const [row] = await r.sql(
      `SELECT (SELECT count(*) FROM metadata.gc_manifest_reviews WHERE review_after <= now())
            + (SELECT count(*) FROM metadata.gc_blob_reviews WHERE review_after <= now())
            + (SELECT count(*) FROM metadata.gc_blob_deletions) AS left`,
    );
    if (Number(row.left) === 0) return;
    await sleep(50);
  }
  throw new Error('the collector did not settle');
}
