// `npm run build` (and every pre-script that needs dist/): compiles only when a build input changed.
// `tsc -b` alone would decide that too, but loading TypeScript to find out costs more than half a
// second on every `npm start`; a listing of the inputs (path, size, mtime) compared with the one the
// last successful build left in dist/ costs milliseconds. When anything differs, `tsc -b` runs (itself
// incremental) and link-dist after it. A failed build leaves no stamp, so the next run compiles again
// and reports the errors again.
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));
const STAMP = path.join(root, 'dist', '.build-stamp');

/** The files tsconfig.build.json compiles (same include and exclude), plus what shapes the output. */
function inputs() {
  const files = [
    'tsconfig.build.json',
    'tsconfig.base.json',
    'package-lock.json',
    'tools/build.cjs',
    'tools/link-dist.cjs',
  ];
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(path.join(root, dir), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== 'testing' && e.name !== 'node_modules') walk(rel);
      } else if (rel.endsWith('.ts') && !rel.endsWith('.spec.ts') && !rel.endsWith('.e2e-spec.ts')) {
        files.push(rel);
      }
    }
  };
  for (const top of ['apps', 'libs', 'tools']) {
    let projects = [];
    try {
      projects = fs.readdirSync(path.join(root, top), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const p of projects) if (p.isDirectory() && !p.name.endsWith('-e2e')) walk(`${top}/${p.name}/src`);
  }
  return files.sort();
}

function signature() {
  const hash = createHash('sha256');
  for (const file of inputs()) {
    let st;
    try {
      st = fs.statSync(path.join(root, file));
    } catch {
      st = undefined;
    }
    hash.update(st ? `${file}\0${st.size}\0${st.mtimeMs}\n` : `${file}\0missing\n`);
  }
  return hash.digest('hex');
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// Taken before compiling: a file saved during the build makes the next run compile again.
const current = signature();
let previous = '';
try {
  previous = fs.readFileSync(STAMP, 'utf8');
} catch {
  // No stamp: never built here, or the last build failed.
}
if (previous === current && fs.existsSync(path.join(root, 'dist', 'node_modules', '@wharf'))) process.exit(0);

fs.rmSync(STAMP, { force: true });
run(process.execPath, [
  require.resolve('typescript/bin/tsc', { paths: [root] }),
  '-b',
  'tsconfig.build.json',
]);
run(process.execPath, [path.join(root, 'tools', 'link-dist.cjs')]);
fs.writeFileSync(STAMP, current);
