import { DataSource, type MixedList, type EntitySchema } from 'typeorm';

export interface SchemaDataSourceOptions {
  url: string;
  /** The Postgres schema this service owns (DESIGN.md "Ownership of state"). */
  schema: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type
  migrations: MixedList<Function | string>;
  poolSize: number;
  /** Connection acquisition and statement timeout. */
  timeoutMs: number;
  applicationName: string;
}

/**
 * Opens a pool for one service's schema and brings the schema up to date. Migrations run under a
 * transaction-level advisory lock so replicas starting together apply each migration once; they
 * are never `synchronize`d.
 */
export async function openSchemaDataSource(opts: SchemaDataSourceOptions): Promise<DataSource> {
  const ds = new DataSource({
    type: 'postgres',
    url: opts.url,
    schema: opts.schema,
    entities: opts.entities,
    migrations: opts.migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    poolSize: opts.poolSize,
    applicationName: opts.applicationName,
    extra: {
      connectionTimeoutMillis: opts.timeoutMs,
      statement_timeout: opts.timeoutMs,
      idle_in_transaction_session_timeout: Math.max(opts.timeoutMs, 60_000),
    },
  });
  await ds.initialize();
  try {
    await migrate(ds, opts.schema);
  } catch (e) {
    await ds.destroy();
    throw e;
  }
  return ds;
}

async function migrate(ds: DataSource, schema: string): Promise<void> {
  const runner = ds.createQueryRunner();
  try {
    await runner.connect();
    // A session-level lock keyed by the schema name serialises concurrent migrators.
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [`wharf-migrate:${schema}`]);
    try {
      await runner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [`wharf-migrate:${schema}`]);
    }
  } finally {
    await runner.release();
  }
}

/** True when `e` is a Postgres unique-violation (another writer got there first). */
export function isUniqueViolation(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === '23505';
}
