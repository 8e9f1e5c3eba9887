/**
 * The pool's shape: warmed to its size when asked (the all-in-one), opened on demand otherwise,
 * and never shrunk by idleness in either case.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { openSchemaDataSource } from './data-source';

const pgEnv = {
  ...process.env,
  PGHOST: process.env.PGHOST ?? '127.0.0.1',
  PGUSER: process.env.PGUSER ?? 'postgres',
};
const dbName = `wharf_pool_${randomBytes(6).toString('hex')}`;
const limitedRole = `${dbName}_limited`;

function open(applicationName: string, warmPool: boolean, user = pgEnv.PGUSER): Promise<DataSource> {
  return openSchemaDataSource({
    url: `postgres://${user}@${pgEnv.PGHOST}:5432/${dbName}`,
    // Its own schema for the limited role, which may not use the one the superuser created.
    schema: user === pgEnv.PGUSER ? 'pooltest' : 'pooltest_limited',
    entities: [],
    migrations: [],
    poolSize: 5,
    timeoutMs: 10_000,
    applicationName,
    warmPool,
  });
}

/** Connections the server holds for one application name, counted from another connection. */
async function connections(probe: DataSource, applicationName: string): Promise<number> {
  const rows: { n: number }[] = await probe.query(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
    [dbName, applicationName],
  );
  return rows[0].n;
}

/** connections(), polled for up to a second until it reads `expected`; the last reading otherwise. */
async function settledConnections(
  probe: DataSource,
  applicationName: string,
  expected: number,
): Promise<number> {
  let n = await connections(probe, applicationName);
  for (let i = 0; i < 20 && n !== expected; i++) {
    await new Promise((r) => setTimeout(r, 50));
    n = await connections(probe, applicationName);
  }
  return n;
}

describe('openSchemaDataSource pool', () => {
  const opened: DataSource[] = [];
  let probe: DataSource;

  beforeAll(async () => {
    execFileSync('createdb', [dbName], { env: pgEnv });
    probe = await open('wharf-pool-probe', false);
    await probe.query(`CREATE ROLE ${limitedRole} LOGIN CONNECTION LIMIT 3`);
    await probe.query(`GRANT CREATE ON DATABASE ${dbName} TO ${limitedRole}`);
    opened.push(probe);
  });

  afterAll(async () => {
    for (const ds of opened) await ds.destroy().catch(() => undefined);
    execFileSync('dropdb', ['--force', '--if-exists', dbName], { env: pgEnv });
    execFileSync('psql', ['-d', 'postgres', '-c', `DROP ROLE IF EXISTS ${limitedRole}`], { env: pgEnv });
  });

  it('opens every connection before returning when warmPool is set', async () => {
    opened.push(await open('wharf-pool-warm', true));
    expect(await connections(probe, 'wharf-pool-warm')).toBe(5);
  });

  it('refuses to start when the server will not allow the whole pool', async () => {
    // A role limited to 3 connections stands in for a pool larger than max_connections.
    await expect(open('wharf-pool-limited', true, limitedRole)).rejects.toThrow(
      /wharf-pool-limited pool could open only [0-3] of its 5 connections/,
    );
    // And it leaves nothing open behind it. A closed connection's backend leaves pg_stat_activity a
    // moment after the client has hung up, so give the server a second to see them go.
    expect(await settledConnections(probe, 'wharf-pool-limited', 0)).toBe(0);
  });

  it('opens connections on demand otherwise', async () => {
    const ds = await open('wharf-pool-lazy', false);
    opened.push(ds);
    // Only what initialising and migrating used (TypeORM's version check, the migration lock).
    expect(await connections(probe, 'wharf-pool-lazy')).toBeLessThanOrEqual(2);
    await Promise.all(Array.from({ length: 4 }, () => ds.query('SELECT pg_sleep(0.05)')));
    expect(await connections(probe, 'wharf-pool-lazy')).toBe(4);
  });

  it('keeps idle connections past pg-pool’s default 10 s idle timeout', async () => {
    await new Promise((r) => setTimeout(r, 11_000));
    expect(await connections(probe, 'wharf-pool-warm')).toBe(5);
    expect(await connections(probe, 'wharf-pool-lazy')).toBe(4);
  }, 20_000);
});
