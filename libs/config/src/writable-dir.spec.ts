import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertWritableDir, type DirFs } from './writable-dir';

let tmp: string;
beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-writable-'))));
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The real file system, but writes inside the directory fail with `code`. */
const failingWrites = (code: string): DirFs => ({
  ...fs,
  writeFileSync: () => {
    throw Object.assign(new Error(`${code}: simulated`), { code });
  },
});

describe('assertWritableDir', () => {
  it('creates a missing directory and leaves nothing in it', () => {
    const dir = path.join(tmp, 'a', 'b');
    assertWritableDir('WHARF_DATA_DIR', dir);
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('refuses a file where the directory should be, naming the key', () => {
    const file = path.join(tmp, 'blobs');
    fs.writeFileSync(file, 'x');
    expect(() => assertWritableDir('WHARF_STORAGE_ROOT', file)).toThrow(
      `invalid configuration WHARF_STORAGE_ROOT: ${file} is not a directory`,
    );
    expect(() => assertWritableDir('WHARF_DATA_DIR', path.join(file, 'below'))).toThrow(
      `invalid configuration WHARF_DATA_DIR: ${path.join(file, 'below')} is not a directory`,
    );
  });

  it('says a read-only file system is read-only, and a denied write is denied', () => {
    expect(() => assertWritableDir('WHARF_DATA_DIR', tmp, failingWrites('EROFS'))).toThrow(
      `invalid configuration WHARF_DATA_DIR: ${tmp} is not writable: it is on a read-only file system`,
    );
    expect(() => assertWritableDir('WHARF_STORAGE_ROOT', tmp, failingWrites('EACCES'))).toThrow(
      `invalid configuration WHARF_STORAGE_ROOT: ${tmp} is not writable: permission denied`,
    );
  });

  it('says when a missing directory cannot be created', () => {
    const dir = path.join(tmp, 'new');
    const readOnly: DirFs = {
      ...fs,
      mkdirSync: () => {
        throw Object.assign(new Error('EROFS: simulated'), { code: 'EROFS' });
      },
    };
    expect(() => assertWritableDir('WHARF_STORAGE_ROOT', dir, readOnly)).toThrow(
      `invalid configuration WHARF_STORAGE_ROOT: ${dir} cannot be created: it is on a read-only file system`,
    );
  });

  it('names the real cause where a recursive mkdir reports ENOENT', () => {
    const dir = path.join(tmp, 'ro', 'blobs');
    // What Node's mkdir -p says on a read-only mount: the child's ENOENT, not the parent's EROFS.
    const readOnly: DirFs = {
      ...fs,
      mkdirSync: ((p: string, opts?: { recursive?: boolean }) => {
        const code = opts?.recursive ? 'ENOENT' : 'EROFS';
        throw Object.assign(new Error(`${code}: mkdir '${p}'`), { code });
      }) as DirFs['mkdirSync'],
    };
    expect(() => assertWritableDir('WHARF_STORAGE_ROOT', dir, readOnly)).toThrow(
      `invalid configuration WHARF_STORAGE_ROOT: ${dir} cannot be created: it is on a read-only file system`,
    );
  });

  (process.getuid?.() === 0 ? it.skip : it)('refuses a directory without write permission', () => {
    fs.chmodSync(tmp, 0o555);
    try {
      expect(() => assertWritableDir('WHARF_DATA_DIR', tmp)).toThrow(/is not writable: permission denied/);
    } finally {
      fs.chmodSync(tmp, 0o755);
    }
  });
});
