import { createServer } from 'node:net';
import { Client, Pool } from 'pg';
import { QueryFailedError } from 'typeorm';
import { RegistryError } from '@wharf/oci';
import { isDatabaseUnavailable, pingDatabase } from './unavailable';

// The machine's Postgres (preamble: trust auth on 127.0.0.1:5432).
const server = {
  host: process.env.PGHOST ?? '127.0.0.1',
  user: process.env.PGUSER ?? 'postgres',
  database: 'postgres',
};

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );

describe('isDatabaseUnavailable', () => {
  it('is true for a server that refuses connections', async () => {
    const pool = new Pool({ host: '127.0.0.1', port: await closedPort(), user: 'x' });
    try {
      expect(isDatabaseUnavailable(await failure(pool.query('SELECT 1')))).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('is true for a connection the server terminated (57P01), and for the next query on it', async () => {
    const victim = new Client(server);
    victim.on('error', () => undefined);
    const admin = new Client(server);
    await Promise.all([victim.connect(), admin.connect()]);
    try {
      const pid = (await victim.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      const running = failure(victim.query('SELECT pg_sleep(10)'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const terminated = await running;
      expect((terminated as { code?: string }).code).toBe('57P01');
      expect(isDatabaseUnavailable(terminated)).toBe(true);
      // TypeORM wraps query errors; the driver's error rides along
      expect(isDatabaseUnavailable(new QueryFailedError('SELECT 1', [], terminated as Error))).toBe(true);
      expect(isDatabaseUnavailable(await failure(victim.query('SELECT 1')))).toBe(true);
    } finally {
      await Promise.all([victim.end().catch(() => undefined), admin.end()]);
    }
  });

  it('is true when the pool hands out no connection in time', async () => {
    const pool = new Pool({ ...server, max: 1, connectionTimeoutMillis: 100 });
    const held = await pool.connect();
    try {
      expect(isDatabaseUnavailable(await failure(pool.query('SELECT 1')))).toBe(true);
    } finally {
      held.release();
      await pool.end();
    }
  });

  it('is true for the server going away or starting up', () => {
    for (const code of ['57P01', '57P02', '57P03', '08006', '08001', '08P01'])
      expect(isDatabaseUnavailable(Object.assign(new Error('x'), { code }))).toBe(true);
  });

  it('is false for errors of the request or the code', async () => {
    const client = new Client(server);
    await client.connect();
    try {
      const syntax = await failure(client.query('SELEC 1'));
      expect((syntax as { code?: string }).code).toBe('42601');
      expect(isDatabaseUnavailable(syntax)).toBe(false);
      expect(isDatabaseUnavailable(new QueryFailedError('SELEC 1', [], syntax as Error))).toBe(false);
    } finally {
      await client.end();
    }
    for (const e of [
      Object.assign(new Error('duplicate key'), { code: '23505' }),
      Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
      new RegistryError('BLOB_UNKNOWN'),
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      Object.assign(new Error('no such file'), { code: 'ENOENT' }),
      undefined,
      'Connection terminated',
    ])
      expect(isDatabaseUnavailable(e)).toBe(false);
  });
});

describe('pingDatabase', () => {
  it('answers ok from a live server, and what is wrong otherwise, in time', async () => {
    const live = new Pool(server);
    const refused = new Pool({ host: '127.0.0.1', port: await closedPort(), user: 'x' });
    try {
      expect(await pingDatabase(live)).toBe('ok');
      expect(await pingDatabase(refused)).toMatch(/^unavailable: .*ECONNREFUSED/);
      const hung = { query: () => new Promise<never>(() => undefined) };
      const t = Date.now();
      expect(await pingDatabase(hung, 100)).toBe('no answer within 100 ms');
      expect(Date.now() - t).toBeLessThan(1_000);
    } finally {
      await Promise.all([live.end(), refused.end()]);
    }
  });
});
