import * as fs from 'node:fs';
import * as path from 'node:path';

// Small helpers for reasoning about OS processes we did not necessarily start ourselves: the
// postmaster of a registry that was SIGKILLed survives it (re-parented to init) and must be found
// and shut down before a new one may use the same data directory.

const hasProc = fs.existsSync('/proc/self/stat');

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True while `pid` exists and is not a zombie (a zombie has exited; only its parent can reap it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (!hasProc) return true;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3 (state) follows "pid (comm) "; comm may itself contain ") ", hence lastIndexOf.
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false; // gone between kill(0) and the read
  }
}

/**
 * Whether `pid` is a postgres postmaster serving `dataDir`. On Linux this is decided from /proc:
 * the executable is `postgres` (backends rename themselves "postgres: ...", the postmaster keeps
 * its argv) and its working directory is the data directory (the postmaster chdir()s there). This
 * guards against pid reuse: a stale postmaster.pid may name an unrelated process. Without /proc we
 * fall back to the data directory recorded on line 2 of postmaster.pid. `undefined`: cannot tell
 * (e.g. another user's process whose cwd we may not read).
 */
export function isPostmasterFor(pid: number, dataDir: string, pidFileDataDir: string): boolean | undefined {
  if (!hasProc) return path.resolve(pidFileDataDir) === path.resolve(dataDir);
  try {
    const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    if (path.basename(argv0) !== 'postgres') return false;
    return fs.realpathSync(`/proc/${pid}/cwd`) === fs.realpathSync(dataDir);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? false : undefined;
  }
}

/** Pids of all postmasters whose data directory is `dataDir` (Linux only; used by tests and checks). */
export function postmastersFor(dataDir: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => isAlive(pid) && isPostmasterFor(pid, dataDir, '') === true);
}

/**
 * Escalating shutdown of a postmaster: SIGINT is PostgreSQL's "fast" shutdown (roll back open
 * transactions, checkpoint, exit), SIGQUIT "immediate" (exit now, WAL replay at the next start),
 * SIGKILL the very last resort (its backends notice the dead postmaster and exit on their own).
 * `exited(ms)` resolves true once the process is gone, or false after `ms`.
 */
export async function shutdownPostmaster(
  pid: number,
  exited: (ms: number) => Promise<boolean>,
  warn: (msg: string) => void,
  fastTimeoutMs = 10_000,
): Promise<void> {
  const steps: Array<[NodeJS.Signals, number]> = [
    ['SIGINT', fastTimeoutMs],
    ['SIGQUIT', 5_000],
    ['SIGKILL', 5_000],
  ];
  for (const [signal, ms] of steps) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // already gone
    }
    if (await exited(ms)) return;
    warn(`PostgreSQL (pid ${pid}) did not exit within ${ms} ms after ${signal}`);
  }
  throw new Error(`PostgreSQL (pid ${pid}) did not exit even after SIGKILL`);
}

/** `exited` implementation for a process that is not our child: poll its liveness. */
export function pollExited(pid: number): (ms: number) => Promise<boolean> {
  return async (ms) => {
    const deadline = Date.now() + ms;
    while (isAlive(pid)) {
      if (Date.now() >= deadline) return false;
      await sleep(25);
    }
    return true;
  };
}

/**
 * When `pid` started, in clock ticks since boot (/proc/<pid>/stat field 22), or undefined where
 * /proc cannot tell. Together with the pid it names one process: a pid the kernel hands out again
 * comes with a later start time.
 */
export function startTime(pid: number): string | undefined {
  return statField(pid, 22);
}

/** The parent of `pid` (/proc/<pid>/stat field 4), or undefined where /proc cannot tell. */
export function parentPid(pid: number): number | undefined {
  const field = statField(pid, 4);
  return field === undefined ? undefined : Number(field);
}

function statField(pid: number, field: number): string | undefined {
  if (!hasProc) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm)" are space-separated; comm may contain spaces and ")", hence lastIndexOf.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[field - 3];
  } catch {
    return undefined;
  }
}

/** Identifies this boot of the machine: start times count from boot, so they compare only within one. */
export function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** Whether `pid` runs the same executable as this process (a Node.js program, so possibly a Wharf). */
export function runsOurExecutable(pid: number): boolean | undefined {
  if (!hasProc) return undefined;
  try {
    return fs.realpathSync(`/proc/${pid}/exe`) === fs.realpathSync(process.execPath);
  } catch {
    return undefined;
  }
}
