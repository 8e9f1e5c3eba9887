import * as nodeFs from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from './errors';

/** The file-system calls the check makes; tests inject failures the machine cannot produce. */
export type DirFs = Pick<typeof nodeFs, 'mkdirSync' | 'statSync' | 'writeFileSync' | 'rmSync'>;

/**
 * Checks at start that `dir` (the value of `key`) is a directory this process can write to,
 * creating it if missing, by writing and removing a file: permission bits alone do not say (root
 * ignores them; a read-only mount, ACLs and quotas are not in them). Without this, an unwritable
 * store shows up as a 500 at the first push.
 */
export function assertWritableDir(key: string, dir: string, fs: DirFs = nodeFs): void {
  const fail = (problem: string): never => {
    throw new ConfigError(key, `${dir} ${problem}`);
  };
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (recursiveError) {
    const e = mkdirCause(fs, dir, recursiveError);
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    // mkdir -p over a file, or over a path with a file in it
    if (code === 'EEXIST' || code === 'ENOTDIR') fail('is not a directory');
    if (e !== undefined) fail(problem(e, 'cannot be created'));
  }
  if (!fs.statSync(dir).isDirectory()) fail('is not a directory');
  const probe = join(dir, `.wharf-write-check-${process.pid}`);
  try {
    fs.writeFileSync(probe, '');
  } catch (e) {
    fail(problem(e, 'is not writable'));
  }
  try {
    fs.rmSync(probe, { force: true });
  } catch (e) {
    fail(problem(e, 'is not writable'));
  }
}

/**
 * Node's recursive mkdir reports ENOENT for what is really EROFS or EACCES higher up (it retries
 * the parent, which exists, and keeps the child's error): mkdir the first missing component alone
 * to learn the real cause.
 */
function mkdirCause(fs: DirFs, dir: string, recursiveError: unknown): unknown {
  if ((recursiveError as NodeJS.ErrnoException).code !== 'ENOENT') return recursiveError;
  let missing = dir;
  while (dirname(missing) !== missing && !fs.statSync(dirname(missing), { throwIfNoEntry: false }))
    missing = dirname(missing);
  try {
    fs.mkdirSync(missing);
    fs.mkdirSync(dir, { recursive: true }); // it was a race after all
    return undefined;
  } catch (e) {
    return e;
  }
}

function problem(e: unknown, what: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EROFS') return `${what}: it is on a read-only file system`;
  if (code === 'EACCES' || code === 'EPERM') return `${what}: permission denied`;
  if (code === 'ENOSPC' || code === 'EDQUOT') return `${what}: no space left`;
  return `${what}: ${(e as Error).message}`;
}
