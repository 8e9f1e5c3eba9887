import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataDirInUseError, LOCK_FILE, dataDirOwner, lockDataDir } from './data-dir-lock';
import { bootId, startTime } from './processes';

let dir: string;
let children: ChildProcess[] = [];
const warnings: string[] = [];
const warn = (msg: string) => warnings.push(msg);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-lock-'));
  warnings.length = 0;
});

afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children = [];
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A live process other than this one, and the lock file it would have written. */
async function holder(role = 'registry'): Promise<{ pid: number; lock: string }> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  const pid = child.pid!;
  return { pid, lock: `${pid}\n${role}\n${startTime(pid)}\n${bootId()}\n` };
}

const lockFile = () => path.join(dir, LOCK_FILE);

describe('data directory lock', () => {
  it('names this process while held, and is gone once released', () => {
    const lock = lockDataDir(dir, 'registry', warn);
    expect(fs.readFileSync(lockFile(), 'utf8').split('\n').slice(0, 2)).toEqual([
      String(process.pid),
      'registry',
    ]);
    expect(dataDirOwner(dir)).toEqual({ pid: process.pid, role: 'registry' });
    lock.release();
    lock.release();
    expect(fs.existsSync(lockFile())).toBe(false);
    expect(dataDirOwner(dir)).toBeUndefined();
    expect(fs.readdirSync(dir)).toEqual([]); // no temporary files left either
  });

  it('refuses a directory another live process holds, naming it, and leaves its lock alone', async () => {
    const other = await holder('admin CLI');
    fs.writeFileSync(lockFile(), other.lock);
    expect(() => lockDataDir(dir, 'registry', warn)).toThrow(
      new DataDirInUseError(dir, { pid: other.pid, role: 'admin CLI' }),
    );
    expect(() => lockDataDir(dir, 'registry', warn)).toThrow(
      `data directory ${dir} is in use by the admin CLI with pid ${other.pid}`,
    );
    expect(fs.readFileSync(lockFile(), 'utf8')).toBe(other.lock);
    expect(dataDirOwner(dir)).toEqual({ pid: other.pid, role: 'admin CLI' });
  });

  it('refuses a second holder in the same process', () => {
    const lock = lockDataDir(dir, 'registry', warn);
    try {
      expect(() => lockDataDir(dir, 'registry', warn)).toThrow(DataDirInUseError);
    } finally {
      lock.release();
    }
  });

  it('takes over the lock of a holder that was killed', async () => {
    const gone = await holder();
    fs.writeFileSync(lockFile(), gone.lock);
    children[0].kill('SIGKILL');
    await new Promise((resolve) => children[0].once('exit', resolve));

    const lock = lockDataDir(dir, 'registry', warn);
    expect(dataDirOwner(dir)).toEqual({ pid: process.pid, role: 'registry' });
    expect(warnings).toEqual([
      `taking over ${lockFile()} of the registry with pid ${gone.pid}, which is gone`,
    ]);
    lock.release();
  });

  it('takes over a lock whose pid now belongs to another process (pid reuse)', async () => {
    const live = await holder();
    // the same pid, but a process that started at another time than the one that wrote the lock
    fs.writeFileSync(lockFile(), `${live.pid}\nregistry\n1\n${bootId()}\n`);
    expect(dataDirOwner(dir)).toBeUndefined();
    lockDataDir(dir, 'registry', warn).release();
    // and one written before the machine last booted
    fs.writeFileSync(lockFile(), live.lock.replace(bootId(), 'another-boot'));
    lockDataDir(dir, 'registry', warn).release();
    expect(warnings).toHaveLength(2);
  });

  it('replaces a lock file that names no process', () => {
    fs.writeFileSync(lockFile(), 'garbage');
    lockDataDir(dir, 'registry', warn).release();
    expect(warnings).toEqual([`replacing ${lockFile()}, which names no process`]);
  });

  it('release leaves a lock that is no longer its own', async () => {
    const lock = lockDataDir(dir, 'registry', warn);
    const other = await holder();
    fs.writeFileSync(lockFile(), other.lock); // e.g. an operator removed ours and another took it
    lock.release();
    expect(fs.readFileSync(lockFile(), 'utf8')).toBe(other.lock);
  });
});
