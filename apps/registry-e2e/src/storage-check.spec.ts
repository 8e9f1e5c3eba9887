import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnRegistry } from './support/process';

// The built all-in-one as a real process: storage it cannot write is refused at start, naming the
// key, instead of failing the first push with a 500.

/** A read-only tmpfs at `dir`, where this machine lets us mount one (root in a VM or container). */
function mountReadOnly(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function startFailure(dataDir: string, env: Record<string, string> = {}): Promise<string> {
  return spawnRegistry(dataDir, undefined, env).then(
    async (r) => {
      r.child.kill('SIGTERM'); // not SIGKILL: that would leave its PostgreSQL running
      await r.exited;
      throw new Error('the registry started');
    },
    (e: Error) => e.message,
  );
}

describe('storage checked at start', () => {
  let tmp: string;

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'wharf-storage-check-'));
    chmodSync(tmp, 0o755);
  });

  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('refuses a storage root that is a file, naming WHARF_STORAGE_ROOT', async () => {
    const file = join(tmp, 'blobs');
    writeFileSync(file, 'not a directory');
    const message = await startFailure(join(tmp, 'data'), { WHARF_STORAGE_ROOT: file });
    expect(message).toContain(`invalid configuration WHARF_STORAGE_ROOT: ${file} is not a directory`);
    expect(message).not.toContain('PostgreSQL'); // refused before anything was started
  });

  it('refuses a data directory that is a file, naming WHARF_DATA_DIR', async () => {
    const file = join(tmp, 'data');
    writeFileSync(file, 'not a directory');
    expect(await startFailure(file)).toContain(
      `invalid configuration WHARF_DATA_DIR: ${file} is not a directory`,
    );
  });

  it('refuses a storage root on a read-only file system, saying so', async () => {
    const ro = join(tmp, 'ro');
    mkdirSync(ro);
    if (!mountReadOnly(ro)) {
      // Without the privilege to mount, writable-dir.spec.ts covers EROFS with an injected error.
      console.warn('cannot mount a read-only tmpfs here; read-only case not run end to end');
      return;
    }
    try {
      const message = await startFailure(join(tmp, 'data'), { WHARF_STORAGE_ROOT: ro });
      expect(message).toContain(
        `invalid configuration WHARF_STORAGE_ROOT: ${ro} is not writable: it is on a read-only file system`,
      );
      const below = join(ro, 'blobs');
      expect(await startFailure(join(tmp, 'data'), { WHARF_STORAGE_ROOT: below })).toContain(
        `invalid configuration WHARF_STORAGE_ROOT: ${below} cannot be created: it is on a read-only file system`,
      );
      expect(await startFailure(ro)).toContain(
        `invalid configuration WHARF_DATA_DIR: ${ro} is not writable: it is on a read-only file system`,
      );
    } finally {
      execFileSync('umount', [ro]);
    }
  });
});
