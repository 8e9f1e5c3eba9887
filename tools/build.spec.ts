/**
 * tools/build.cjs, behind `npm run build` and the pre-scripts of start, wharf and bench: a build whose
 * inputs did not change is not redone (a warm `npm start` should not pay for loading TypeScript),
 * anything that changed is compiled, and a failing build fails every time until it is fixed.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TOOLS = __dirname;

describe('build only when an input changed', () => {
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'wharf-build-'));
    mkdirSync(join(root, 'tools'));
    for (const f of ['build.cjs', 'link-dist.cjs']) copyFileSync(join(TOOLS, f), join(root, 'tools', f));
    symlinkSync(join(TOOLS, '..', 'node_modules'), join(root, 'node_modules'));
    writeFileSync(
      join(root, 'tsconfig.build.json'),
      JSON.stringify({
        compilerOptions: {
          outDir: 'dist',
          rootDir: '.',
          strict: true,
          module: 'commonjs',
          target: 'es2022',
          types: [],
          incremental: true,
          tsBuildInfoFile: 'dist/.tsbuildinfo',
        },
        include: ['libs/*/src/**/*.ts'],
        exclude: ['**/*.spec.ts'],
      }),
    );
    mkdirSync(join(root, 'libs/a/src'), { recursive: true });
    write('libs/a/src/index.ts', 'export const a: number = 1;\n');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const write = (file: string, text: string) => writeFileSync(join(root, file), text);
  const build = () => {
    const r = spawnSync(process.execPath, [join(root, 'tools/build.cjs')], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  };
  /** When tsc last wrote its build info: unchanged means TypeScript was not run. */
  const compiledAt = () => statSync(join(root, 'dist/.tsbuildinfo')).mtimeMs;

  it('compiles the first time, links the libs, and does nothing while the inputs stay the same', () => {
    expect(build().status).toBe(0);
    expect(existsSync(join(root, 'dist/libs/a/src/index.js'))).toBe(true);
    expect(existsSync(join(root, 'dist/node_modules/@wharf/a/package.json'))).toBe(true);
    const first = compiledAt();
    // Not even loaded: with TypeScript out of reach an up-to-date build still succeeds.
    rmSync(join(root, 'node_modules'));
    mkdirSync(join(root, 'node_modules'));
    expect(build()).toEqual({ status: 0, out: '' });
    expect(compiledAt()).toBe(first);
    rmSync(join(root, 'node_modules'), { recursive: true });
    symlinkSync(join(TOOLS, '..', 'node_modules'), join(root, 'node_modules'));
    // A test file is no build input.
    write('libs/a/src/index.spec.ts', 'export {};\n');
    expect(build().status).toBe(0);
    expect(compiledAt()).toBe(first);
  });

  it('compiles again when a source changes, appears or the config changes', () => {
    expect(build().status).toBe(0);
    write('libs/a/src/index.ts', 'export const a: number = 2;\n');
    expect(build().status).toBe(0);
    expect(readFileSync(join(root, 'dist/libs/a/src/index.js'), 'utf8')).toContain('exports.a = 2;');
    write('libs/a/src/more.ts', 'export const b = 3;\n');
    expect(build().status).toBe(0);
    expect(existsSync(join(root, 'dist/libs/a/src/more.js'))).toBe(true);
    const before = compiledAt();
    const config = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8'));
    write('tsconfig.build.json', JSON.stringify({ ...config, exclude: ['**/*.spec.ts', '**/more.ts'] }));
    expect(build().status).toBe(0);
    expect(compiledAt()).not.toBe(before);
  });

  it('fails on a type error every time until it is fixed', () => {
    expect(build().status).toBe(0);
    write('libs/a/src/index.ts', 'export const a: number = "one";\n');
    for (let i = 0; i < 2; i++) {
      const r = build();
      expect(r.status).not.toBe(0);
      expect(r.out).toContain('TS2322');
    }
    write('libs/a/src/index.ts', 'export const a: number = 4;\n');
    expect(build().status).toBe(0);
  });

  it('builds again when dist/ was removed', () => {
    expect(build().status).toBe(0);
    rmSync(join(root, 'dist'), { recursive: true });
    expect(build().status).toBe(0);
    expect(existsSync(join(root, 'dist/libs/a/src/index.js'))).toBe(true);
  });
});
