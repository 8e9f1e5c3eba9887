import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootId, isAlive, startTime } from './processes';

// One process at a time owns a data directory: the one that runs its embedded PostgreSQL. The lock
// is a file naming that process (pid, start time, boot id), not an flock(2): Node has no flock, and
// a file can be read by whoever is refused, to say who holds it. Liveness is judged the way
// postmaster.pid is, plus the start time so a pid the kernel handed out again is not taken for the
// owner (docs/adr/0016-data-directory-lock.md).

export const LOCK_FILE = 'wharf.lock';

export interface LockOwner {
  pid: number;
  /** What holds it, for messages: "registry", "admin CLI". */
  role: string;
}

export class DataDirInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly owner: LockOwner,
  ) {
    super(`data directory ${dir} is in use by the ${owner.role} with pid ${owner.pid}`);
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  readonly dir: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

interface LockRecord extends LockOwner {
  /** Empty where /proc is missing: then only the pid counts. */
  start: string;
  boot: string;
}

const format = (r: LockRecord): string => `${r.pid}\n${r.role}\n${r.start}\n${r.boot}\n`;

function parse(text: string): LockRecord | undefined {
  const [pid, role, start, boot] = text.split('\n');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0 || !role) return undefined;
  return { pid: n, role, start: start ?? '', boot: boot ?? '' };
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function isLive(r: LockRecord): boolean {
  if (!isAlive(r.pid)) return false;
  const boot = bootId();
  if (r.boot && boot && r.boot !== boot) return false; // written before a reboot
  const start = startTime(r.pid);
  return !r.start || start === undefined || start === r.start;
}

/** The live process holding `dir`, if any. */
export function dataDirOwner(dir: string): LockOwner | undefined {
  const text = readText(path.join(dir, LOCK_FILE));
  const r = text === undefined ? undefined : parse(text);
  return r && isLive(r) ? { pid: r.pid, role: r.role } : undefined;
}

/**
 * Takes `<dir>/wharf.lock` for this process, or throws DataDirInUseError naming the live holder.
 * A lock whose holder is gone (kill -9, a reboot) is taken over. The file is written whole under a
 * temporary name and link(2)ed into place, which fails if the name exists: the lock is never seen
 * half-written. A stale lock is renamed aside before ours goes in, and only if what was moved is
 * what was judged stale — two processes replacing the same stale lock cannot both win.
 */
export function lockDataDir(
  dir: string,
  role: string,
  warn: (msg: string) => void = () => undefined,
): DataDirLock {
  const file = path.join(dir, LOCK_FILE);
  const mine = format({ pid: process.pid, role, start: startTime(process.pid) ?? '', boot: bootId() });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, mine, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        fs.linkSync(tmp, file);
        return held(dir, file, mine);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const text = readText(file);
      if (text === undefined) continue; // released meanwhile
      const holder = parse(text);
      if (holder && isLive(holder)) throw new DataDirInUseError(dir, holder);
      const aside = `${file}.stale-${process.pid}`;
      try {
        fs.renameSync(file, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      if (readText(aside) !== text) {
        // Another process replaced the stale lock first; that one is live: put it back.
        try {
          fs.linkSync(aside, file);
        } catch {
          // a third one got in meanwhile; it holds the lock now
        }
      } else {
        warn(
          holder
            ? `taking over ${file} of the ${holder.role} with pid ${holder.pid}, which is gone`
            : `replacing ${file}, which names no process`,
        );
      }
      fs.rmSync(aside, { force: true });
    }
    throw new Error(`could not take ${file}: other processes keep replacing it`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function held(dir: string, file: string, mine: string): DataDirLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    try {
      if (readText(file) === mine) fs.rmSync(file, { force: true });
    } catch {
      // the directory is gone or unreadable: nothing left to release
    }
  };
  // A normal exit that forgot release(); after kill -9 the next start finds the holder gone.
  process.on('exit', release);
  return { dir, release };
}
