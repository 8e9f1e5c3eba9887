import * as fs from 'node:fs';
import * as path from 'node:path';
import { prepareCluster, SUPERUSER } from './cluster';
import type { EmbeddedPostgresLogLevel, Log } from './log';
import {
  freePort,
  launchPostmaster,
  StartFailed,
  stopPostmaster,
  takeOverPreviousServer,
  type Postmaster,
} from './postmaster';

export type { EmbeddedPostgresLogLevel } from './log';

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

const LOG_FILE = 'server.log';
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
const PORT_ATTEMPTS = 5;
const RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 5_000;

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
  const cluster = await prepareCluster(dataDir, log);

  await takeOverPreviousServer(dataDir, log);

  const logFile = path.join(dataDir, LOG_FILE);
  if ((fs.statSync(logFile, { throwIfNoEntry: false })?.size ?? 0) > LOG_ROTATE_BYTES) {
    fs.renameSync(logFile, `${logFile}.1`);
  }

  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  const launch = (port: number, deadline: number): Promise<Postmaster> =>
    launchPostmaster(cluster, { port, deadline, logFile, database }, log);

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
    url: `postgres://${SUPERUSER}:${cluster.password}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
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

/** The line of a failed start worth a log line: postgres's FATAL, else the first line. */
function summary(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split('\n').filter((l) => l.trim());
  return (lines.filter((l) => /FATAL|PANIC/.test(l)).pop() ?? lines[0] ?? text).trim();
}
