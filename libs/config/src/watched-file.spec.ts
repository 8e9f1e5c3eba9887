import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WatchedFile } from './watched-file';

describe('watched file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'wharf-watch-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const parse = (text: string) => {
    if (text.includes('bad')) throw new Error('bad content');
    return text.trim();
  };

  it('picks up a change, including an atomic replace', async () => {
    const file = join(dir, 'f');
    writeFileSync(file, 'one');
    const reloaded: string[] = [];
    const w = await WatchedFile.load(file, parse, {
      onError: () => undefined,
      onReload: (v) => reloaded.push(v),
      intervalMs: 0,
    });
    expect(await w.get()).toBe('one');
    expect(reloaded).toEqual([]);
    writeFileSync(join(dir, 'tmp'), 'two!');
    renameSync(join(dir, 'tmp'), file);
    expect(await w.get()).toBe('two!');
    expect(await w.get()).toBe('two!');
    expect(reloaded).toEqual(['two!']);
  });

  it('keeps the last good value when a change does not parse or the file disappears, reporting once', async () => {
    const file = join(dir, 'f');
    writeFileSync(file, 'good');
    const errors: string[] = [];
    const reloaded: string[] = [];
    const w = await WatchedFile.load(file, parse, {
      onError: (e) => errors.push(e.message),
      onReload: (v) => reloaded.push(v),
      intervalMs: 0,
    });
    writeFileSync(file, 'bad bad');
    expect(await w.get()).toBe('good');
    expect(await w.get()).toBe('good');
    expect(errors).toEqual(['bad content']);
    rmSync(file);
    expect(await w.get()).toBe('good');
    expect(await w.get()).toBe('good');
    expect(errors).toHaveLength(2);
    writeFileSync(file, 'back');
    expect(await w.get()).toBe('back');
    expect(reloaded).toEqual(['back']);
  });

  it('fails the first load of a missing or invalid file', async () => {
    await expect(WatchedFile.load(join(dir, 'none'), parse, { onError: () => undefined })).rejects.toThrow();
    writeFileSync(join(dir, 'f'), 'bad');
    await expect(WatchedFile.load(join(dir, 'f'), parse, { onError: () => undefined })).rejects.toThrow(
      /bad content/,
    );
  });
});
