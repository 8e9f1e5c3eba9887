import type { DataSource, MixedList, EntitySchema } from 'typeorm';

export interface SchemaDataSourceOptions {
  url: string;
  /** The Postgres schema this service owns (DESIGN.md "Ownership of state"). */
  schema: string;
  /**
   * TypeORM entity classes; none by default. Statements are hand-written and their row types live
   * beside them, in each service's store (docs/adr/0018-sql-stores.md).
   */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type
  entities?: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type
  migrations: MixedList<Function | string>;
  poolSize: number;
  /** Connection acquisition and statement timeout. */
  timeoutMs: number;
  applicationName: string;
  /**
   * Opens all `poolSize` connections before returning. Only for a database the process owns (the
   * all-in-one's embedded Postgres): against a shared server, every replica holding its whole pool
   * from the start could exhaust `max_connections`. Fails when the server refuses some.
   */
  warmPool?: boolean;
}

/**
 * Opens a pool for one service's schema and brings the schema up to date. Migrations run under a
 * session-level advisory lock, held on one connection from before the first migration until after
 * the last (each migration is its own transaction), so replicas starting together apply each
 * migration once; they are never `synchronize`d.
 */
export async function openSchemaDataSource(opts: SchemaDataSourceOptions): Promise<DataSource> {
  // Loaded here, not at import: the gateway imports this library only to classify errors
  // (unavailable.ts) and has no use for TypeORM's 20 MB.
  const { DataSource } = await import('typeorm');
  const ds = new DataSource({
    type: 'postgres',
    url: opts.url,
    schema: opts.schema,
    entities: opts.entities ?? [],
    migrations: opts.migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    poolSize: opts.poolSize,
    applicationName: opts.applicationName,
    extra: {
      connectionTimeoutMillis: opts.timeoutMs,
      // Never close idle connections (pg-pool's default closes them after 10 s). A connection costs
      // a backend fork and a SCRAM exchange, ~26 ms here with 8 ms of our CPU; a pool that shrank
      // while traffic was light paid that twenty times over at the start of the next burst of
      // pushes, which made the first seconds of every burst a third slower.
      idleTimeoutMillis: 0,
      statement_timeout: opts.timeoutMs,
      idle_in_transaction_session_timeout: Math.max(opts.timeoutMs, 60_000),
    },
  });
  await ds.initialize();
  try {
    await migrate(ds, opts.schema);
    if (opts.warmPool) await warmPool(ds, opts.poolSize, opts.applicationName);
  } catch (e) {
    await ds.destroy();
    throw e;
  }
  return ds;
}

/**
 * Opens `size` connections at once and returns them to the pool, so the first burst finds them.
 * A server that refuses some would refuse them under load too, as 500s in the middle of pushes:
 * better to say so at start.
 */
async function warmPool(ds: DataSource, size: number, name: string): Promise<void> {
  const pool = (ds.driver as unknown as { master: PgPool }).master;
  const clients = await Promise.allSettled(Array.from({ length: size }, () => pool.connect()));
  for (const c of clients) if (c.status === 'fulfilled') c.value.release();
  const refused = clients.filter((c): c is PromiseRejectedResult => c.status === 'rejected');
  if (refused.length) {
    throw new Error(
      `the ${name} pool could open only ${size - refused.length} of its ${size} connections ` +
        `(WHARF_DATABASE_POOL_SIZE; does the server allow that many?): ${String(refused[0].reason)}`,
    );
  }
}

/** The part of pg's Pool that TypeORM's Postgres driver keeps as `master`. */
interface PgPool {
  connect(): Promise<{ release(): void }>;
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
