import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Client } from 'pg';
import { PASSWORD_FILE, SUPERUSER, type Binaries, type Cluster, type RunAs } from './cluster';
import type { Log } from './log';
import {
  isAlive,
  isPostmasterFor,
  parentPid,
  pollExited,
  runsOurExecutable,
  shutdownPostmaster,
  sleep,
} from './processes';

/** A start that failed; `portTaken` when another program had the port, so another may work. */
export class StartFailed extends Error {
  constructor(
    message: string,
    readonly portTaken = false,
  ) {
    super(message);
  }
}

/** One postmaster we spawned. */
export interface Postmaster {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited: () => boolean;
  /** Resolves true once exited, or false after `ms`. */
  waitExit: (ms: number) => Promise<boolean>;
  spawnError: () => string;
}

export interface LaunchOptions {
  port: number;
  /** Epoch ms by which the server must accept logins. */
  deadline: number;
  /** The server's stderr is appended here. */
  logFile: string;
  /** Created when missing. */
  database: string;
}

/** Spawns a postmaster on `port` and waits until it accepts logins; stops it again on failure. */
export async function launchPostmaster(cluster: Cluster, opts: LaunchOptions, log: Log): Promise<Postmaster> {
  const { bins, dataDir, runAs, password } = cluster;
  const { port, deadline, logFile, database } = opts;
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
}

/** Fast shutdown of a postmaster we spawned, escalating if it hangs; resolves once it has exited. */
export async function stopPostmaster(pm: Postmaster, log: Log): Promise<void> {
  if (pm.hasExited() || pm.child.pid === undefined) return;
  pm.child.ref(); // keep Node alive until postgres has finished its shutdown checkpoint
  await shutdownPostmaster(pm.child.pid, pm.waitExit, (msg) => log('warn', msg), 60_000);
  await pm.exited;
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
export async function takeOverPreviousServer(dataDir: string, log: Log): Promise<void> {
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

export function freePort(): Promise<number> {
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
