import 'reflect-metadata';
import { openBlobDataSource } from '@wharf/blob';
import { ConfigError, loadConfig } from '@wharf/config';
import { openMetadataDataSource } from '@wharf/metadata';

/**
 * `npm run migrate`: brings both schemas (metadata, blob) up to date and exits. The services also
 * migrate at start under the same advisory lock; a one-shot job just lets a rollout start on an
 * up-to-date database. Migrations only ever add, so the previous release keeps working meanwhile.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) throw new ConfigError('WHARF_DATABASE_URL', 'is required by migrate');
  const db = { databaseUrl: config.databaseUrl, poolSize: 2, timeoutMs: config.databaseTimeoutMs };
  for (const [schema, open] of [
    ['metadata', openMetadataDataSource],
    ['blob', openBlobDataSource],
  ] as const) {
    const ds = await open(db);
    const applied: { name: string }[] = await ds.query(`SELECT name FROM "${schema}".migrations ORDER BY id`);
    console.log(`${schema}: ${applied.map((m) => m.name).join(', ')}`);
    await ds.destroy();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
