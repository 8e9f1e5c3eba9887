import { promises as fs } from 'node:fs';

/**
 * A file parsed once at start and again whenever it changes (mtime, size or inode: an atomic
 * rename or a Kubernetes Secret update both count). The file is looked at lazily, at most once per
 * `intervalMs`, from the request path, so an idle registry does no I/O and there is no timer to stop.
 *
 * A change that fails to parse keeps the last good value: taking the registry down, or dropping
 * every rule, because someone saved a half-edited file would be worse. `onError` reports it, and
 * `onReload` each change that took effect, so the log shows which version is in force.
 */
export class WatchedFile<T> {
  private checkedAt = 0;
  private checking?: Promise<void>;

  private constructor(
    readonly path: string,
    private readonly parse: (text: string) => T,
    private readonly onError: (e: Error) => void,
    private readonly onReload: (value: T) => void,
    private readonly intervalMs: number,
    private value: T,
    private signature: string,
  ) {}

  /** Reads and parses the file now; a missing or invalid file is the caller's (fatal) error. */
  static async load<T>(
    path: string,
    parse: (text: string) => T,
    opts: { onError: (e: Error) => void; onReload?: (value: T) => void; intervalMs?: number },
  ): Promise<WatchedFile<T>> {
    const stat = await fs.stat(path);
    const value = parse(await fs.readFile(path, 'utf8'));
    const file = new WatchedFile(
      path,
      parse,
      opts.onError,
      opts.onReload ?? (() => undefined),
      opts.intervalMs ?? 1000,
      value,
      signatureOf(stat),
    );
    file.checkedAt = Date.now();
    return file;
  }

  /** The current value, after looking for a change when the interval has passed. */
  async get(): Promise<T> {
    if (Date.now() - this.checkedAt >= this.intervalMs) {
      this.checking ??= this.check().finally(() => (this.checking = undefined));
      await this.checking;
    }
    return this.value;
  }

  private async check(): Promise<void> {
    this.checkedAt = Date.now();
    try {
      const stat = await fs.stat(this.path);
      const signature = signatureOf(stat);
      if (signature === this.signature) return;
      // Remembered before parsing so a broken file is reported once, not on every check.
      this.signature = signature;
      this.value = this.parse(await fs.readFile(this.path, 'utf8'));
      this.onReload(this.value);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') {
        if (this.signature === 'missing') return;
        this.signature = 'missing';
      }
      this.onError(err);
    }
  }
}

function signatureOf(stat: { mtimeMs: number; size: number; ino: number }): string {
  return `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
}
