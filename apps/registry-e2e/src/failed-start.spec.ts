import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '@wharf/config';
import { startRegistry } from '@wharf/registry-app';
import { createTestDatabase } from './support/in-process';

/** A registry embedded in another process (as these tests do) that fails to start must leave nothing running. */
describe('a start that fails', () => {
  it('on a port already taken rejects, and closes its database pool and workers', async () => {
    const db = createTestDatabase();
    const dataDir = mkdtempSync(join(tmpdir(), 'wharf-failed-start-'));
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const name = new URL(db.url).pathname.slice(1);
    const admin = new Client({ connectionString: db.url.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    const connections = async () =>
      Number(
        (await admin.query('SELECT count(*) FROM pg_stat_activity WHERE datname = $1', [name])).rows[0].count,
      );
    try {
      const config = loadConfig({
        WHARF_HTTP_ADDR: `127.0.0.1:${port}`,
        WHARF_DATA_DIR: dataDir,
        WHARF_DATABASE_URL: db.url,
        WHARF_LOG_LEVEL: 'error',
        // Workers that would otherwise keep querying (and keep the pool open) on a registry nobody got.
        WHARF_GC_INTERVAL: '50ms',
      });
      await expect(startRegistry(config)).rejects.toThrow(/EADDRINUSE/);
      // The server side notices a closed connection shortly after the client closes it.
      const deadline = Date.now() + 3000;
      while ((await connections()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await connections()).toBe(0);
    } finally {
      await admin.end();
      await new Promise((r) => taken.close(r));
      db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
