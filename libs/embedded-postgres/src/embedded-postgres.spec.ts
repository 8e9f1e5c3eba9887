import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { type EmbeddedPostgres, postmastersFor, startEmbeddedPostgres } from './index';
import { isAlive } from './processes';

jest.setTimeout(90_000);

const isRoot = process.getuid?.() === 0;
const logs: string[] = [];
const log = (level: string, msg: string) => logs.push(`${level}: ${msg}`);

let tmp: string;
let running: EmbeddedPostgres[] = [];

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-epg-'));
  fs.chmodSync(tmp, 0o755); // mkdtemp makes it 0700; as root, postgres runs as 'postgres' and must traverse it
  logs.length = 0;
});

afterEach(async () => {
  await Promise.all(running.map((pg) => pg.stop()));
  running = [];
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function start(dataDir: string): Promise<EmbeddedPostgres> {
  const pg = await startEmbeddedPostgres({ dataDir, log });
  running.push(pg);
  return pg;
}

async function query<T = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  const result = await fn();
  console.log(`${label}: ${Date.now() - t} ms`);
  return result;
}

/**
 * A stand-in for the registry: a separate node process running this library (the TypeScript is
 * compiled on the fly by SWC), which prints the server's url/pid once it is up. With `stayAlive`
 * it then idles until killed; otherwise it just ends, like an app that exits normally.
 */
function spawnRegistry(dataDir: string, stayAlive: boolean) {
  const script = `
    const swc = require(${JSON.stringify(require.resolve('@swc/core'))});
    require.extensions['.ts'] = (m, file) => m._compile(swc.transformFileSync(file, {
      jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }).code, file);
    const { startEmbeddedPostgres } = require(${JSON.stringify(path.join(__dirname, 'index.ts'))});
    startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)} }).then((pg) => {
      process.stdout.write(JSON.stringify({ url: pg.url, pid: pg.pid }) + '\\n');
      if (${stayAlive}) setInterval(() => undefined, 1 << 30);
    }, (err) => { console.error(err); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<{ url: string; pid: number }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out));
    });
    void exited.then(() => reject(new Error('registry child exited before it was ready')));
  });
  ready.catch(() => undefined); // the kill-during-initdb test never awaits it
  return {
    pid: child.pid!,
    ready,
    exited,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Waits until `pg` runs a postmaster other than `dead` that answers; returns how long that took. */
async function waitServing(pg: EmbeddedPostgres, dead: number): Promise<number> {
  const t = Date.now();
  for (;;) {
    if (pg.pid !== dead) {
      try {
        await query(pg.url, 'SELECT 1');
        return Date.now() - t;
      } catch {
        // restarted, not yet accepting connections
      }
    }
    if (Date.now() - t > 30_000) throw new Error(`not serving again:\n${logs.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('startEmbeddedPostgres', () => {
  it('initialises on first start, and data persists across stop/start', async () => {
    const dataDir = path.join(tmp, 'data', 'postgres');
    fs.mkdirSync(path.join(tmp, 'data'));
    // leftovers of an initdb that was killed halfway: must be cleaned up, not trip us up
    fs.mkdirSync(path.join(tmp, 'data', 'postgres.initdb-99999999', 'pgdata'), { recursive: true });

    const pg = await timed('first start (initdb)', () => start(dataDir));
    expect(fs.existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);
    expect(fs.readdirSync(path.join(tmp, 'data'))).toEqual(['postgres']);
    expect(fs.statSync(path.join(dataDir, 'wharf-superuser.password')).mode & 0o777).toBe(0o600);
    if (isRoot) expect(fs.statSync(dataDir).uid).not.toBe(0);
    expect(pg.url).toMatch(new RegExp(`^postgres://wharf:[0-9a-f]+@127\\.0\\.0\\.1:${pg.port}/wharf$`));

    const [settings] = await query(
      pg.url,
      `SELECT current_database() AS db, current_setting('listen_addresses') AS listen,
              current_setting('unix_socket_directories') AS sockets, current_setting('fsync') AS fsync`,
    );
    expect(settings).toEqual({ db: 'wharf', listen: '127.0.0.1', sockets: '', fsync: 'on' });
    await query(pg.url, 'CREATE TABLE t (v text)');
    await query(pg.url, `INSERT INTO t VALUES ('kept')`);
    await timed('stop', () => pg.stop());

    const again = await timed('second start', () => start(dataDir));
    expect(await query(again.url, 'SELECT v FROM t')).toEqual([{ v: 'kept' }]);
    expect(logs.filter((l) => l.includes('initialised'))).toHaveLength(1);
    expect(fs.readFileSync(again.logFile, 'utf8')).toContain(
      'database system is ready to accept connections',
    );
  });

  it('takes over the server orphaned by a SIGKILLed registry, keeping committed data', async () => {
    const dataDir = path.join(tmp, 'postgres');
    const registry = spawnRegistry(dataDir, true);
    const first = await registry.ready;
    await query(first.url, 'CREATE TABLE t (v int)');
    await query(first.url, 'INSERT INTO t SELECT generate_series(1, 1000)');

    await registry.kill();
    expect(isAlive(first.pid)).toBe(true); // the orphaned postmaster outlives its parent
    expect(postmastersFor(dataDir)).toEqual([first.pid]);

    const pg = await timed('start with takeover', () => start(dataDir));
    expect(pg.pid).not.toBe(first.pid);
    expect(isAlive(first.pid)).toBe(false);
    expect(postmastersFor(dataDir)).toEqual([pg.pid]);
    expect(await query(pg.url, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 1000 }]);
    expect(logs.some((l) => l.includes(`previous run (pid ${first.pid})`))).toBe(true);
  });

  it('restarts a postmaster killed under it, on the same port, keeping committed data', async () => {
    const dataDir = path.join(tmp, 'postgres');
    const pg = await start(dataDir);
    await query(pg.url, 'CREATE TABLE t (v int)');
    await query(pg.url, 'INSERT INTO t SELECT generate_series(1, 500)');
    const first = pg.pid;
    process.kill(first, 'SIGKILL');

    const back = await timed('back after postmaster SIGKILL', () => waitServing(pg, first));
    expect(back).toBeLessThan(10_000);
    expect(await query(pg.url, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 500 }]);
    expect(postmastersFor(dataDir)).toEqual([pg.pid]);
    expect(logs).toContain(`error: PostgreSQL (pid ${first}) exited unexpectedly (SIGKILL); restarting it`);
    expect(fs.readFileSync(pg.logFile, 'utf8')).toMatch(/not properly shut down; automatic recovery/);
  });

  it('waits out a program that took its port while it was down, then comes back on that port', async () => {
    const dataDir = path.join(tmp, 'postgres');
    const pg: EmbeddedPostgres = await startEmbeddedPostgres({ dataDir, log, restartDelayMs: 1_000 });
    running.push(pg);
    const first = pg.pid;
    process.kill(first, 'SIGKILL');
    const squatter = net.createServer((socket) => socket.destroy()); // close() waits for connections
    // the dying postmaster releases the port within milliseconds; the first restart is 1 s away
    for (let i = 0; ; i++) {
      const bound = await new Promise<boolean>((resolve) => {
        squatter.once('error', () => resolve(false));
        squatter.listen(pg.port, '127.0.0.1', () => resolve(true));
      });
      if (bound) break;
      if (i > 200) throw new Error(`port ${pg.port} never came free`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    try {
      for (let i = 0; !logs.some((l) => l.includes(`port ${pg.port} is taken`)); i++) {
        if (i > 400) throw new Error(`no failed restart logged:\n${logs.join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(pg.pid).toBe(first);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    await waitServing(pg, first);
    expect(await query(pg.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(logs.some((l) => l.includes('is back on 127.0.0.1'))).toBe(true);
  });

  it('refuses to shut down a server whose parent process still runs it', async () => {
    const dataDir = path.join(tmp, 'postgres');
    const registry = spawnRegistry(dataDir, true);
    try {
      const first = await registry.ready;
      await expect(start(dataDir)).rejects.toThrow(
        `PostgreSQL (pid ${first.pid}) on ${dataDir} is still run by process ${registry.pid}; stop that process first`,
      );
      expect(isAlive(first.pid)).toBe(true);
      expect(await query(first.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await registry.kill();
      await start(dataDir); // takes the orphan over, so afterEach stops it
    }
  });

  it('survives a registry killed during initdb', async () => {
    const dataDir = path.join(tmp, 'postgres');
    const registry = spawnRegistry(dataDir, true);
    const initTmp = path.join(tmp, `postgres.initdb-${registry.pid}`, 'pgdata');
    for (let i = 0; !fs.existsSync(initTmp); i++) {
      if (i > 6000) throw new Error(`${initTmp} never appeared`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await registry.kill();
    expect(fs.existsSync(dataDir)).toBe(false); // never a half-initialised cluster in place

    const pg = await start(dataDir);
    expect(await query(pg.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(fs.readdirSync(tmp)).toEqual(['postgres']);
  });

  it('retries with another port when the chosen one gets taken', async () => {
    const squatter = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => squatter.once('listening', resolve));
    const taken = (squatter.address() as net.AddressInfo).port;
    // make the first "free port" probe report the squatter's port
    jest
      .spyOn(net.Server.prototype, 'address')
      .mockReturnValueOnce({ address: '127.0.0.1', family: 'IPv4', port: taken });
    try {
      const pg = await start(path.join(tmp, 'postgres'));
      expect(pg.port).not.toBe(taken);
      expect(logs.some((l) => l.includes(`port ${taken} was taken`))).toBe(true);
    } finally {
      jest.restoreAllMocks();
      squatter.close();
    }
  });

  it('stops the server when the registry process exits normally without calling stop()', async () => {
    const dataDir = path.join(tmp, 'postgres');
    const registry = spawnRegistry(dataDir, false);
    const { pid } = await registry.ready;
    await registry.exited;
    for (let i = 0; isAlive(pid) && i < 800; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(postmastersFor(dataDir)).toEqual([]);
  });

  it('stop() is idempotent and leaves no server behind', async () => {
    const dataDir = path.join(tmp, 'postgres');
    const pg = await start(dataDir);
    expect(postmastersFor(dataDir)).toEqual([pg.pid]);
    await Promise.all([pg.stop(), pg.stop()]);
    await pg.stop();
    expect(postmastersFor(dataDir)).toEqual([]);
    expect(isAlive(pg.pid)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
    await expect(query(pg.url, 'SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
  });

  (isRoot ? it : it.skip)('explains when the postgres user cannot reach the data directory', async () => {
    const locked = path.join(tmp, 'locked');
    fs.mkdirSync(locked, { mode: 0o700 });
    await expect(start(path.join(locked, 'postgres'))).rejects.toThrow(
      new RegExp(`user 'postgres' .* cannot traverse/execute ${locked}\\.`),
    );
    expect(fs.statSync(locked).mode & 0o777).toBe(0o700); // reported, not silently chmod'ed
  });
});
