/**
 * tools/test-env/setup.sh, the `pretest` step that makes a machine ready for `npm test`. Its
 * installing half cannot run here (it would change the machine), so the tests hide commands behind
 * a PATH of their own and read what --dry-run would do.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = join(__dirname, 'setup.sh');
const isRoot = process.getuid?.() === 0;

function setup(args: string[], env: NodeJS.ProcessEnv = process.env, asNobody = false) {
  const [file, argv] = asNobody
    ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', SCRIPT, ...args]]
    : ['bash', [SCRIPT, ...args]];
  const started = Date.now();
  const result = spawnSync(file, argv, { env: { ...env, WHARF_TEST_ENV: '' }, encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout, ms: Date.now() - started };
}

/** A PATH with everything of /usr/bin except `hidden` (plus the sbin dirs the script adds itself). */
function pathWithout(hidden: string[]): { path: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-test-env-'));
  chmodSync(dir, 0o755); // readable by the non-root run below
  for (const name of readdirSync('/usr/bin')) {
    if (!hidden.includes(name)) symlinkSync(join('/usr/bin', name), join(dir, name));
  }
  return { path: dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

// The machine `npm test` runs on has been through setup.sh already (pretest); elsewhere these
// tests say nothing about the script.
const ready = setup(['--dry-run']).stderr === '';
(ready ? describe : describe.skip)('tools/test-env/setup.sh', () => {
  it('does nothing, quickly, when everything is there', () => {
    const timings: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = setup([]);
      expect({ status: r.status, stderr: r.stderr, stdout: r.stdout }).toEqual({
        status: 0,
        stderr: '',
        stdout: '',
      });
      timings.push(r.ms);
    }
    expect(Math.min(...timings)).toBeLessThan(1000);
  });

  it('installs the packages of the missing commands with apt, once each, and starts Postgres', () => {
    const fake = pathWithout(['skopeo', 'ctr', 'containerd', 'docker', 'psql', 'pg_isready']);
    try {
      const r = setup(['--dry-run'], { ...process.env, PATH: fake.path });
      expect(r.status).toBe(0);
      expect(r.stderr).toContain('would run: apt-get update -qq');
      // ctr and containerd are one package; the order is the script's table.
      expect(r.stderr).toContain(
        'would run: apt-get install -y -qq --no-upgrade postgresql skopeo docker.io containerd\n',
      );
      // Without psql and pg_isready it cannot see Postgres running, so it (would) start the cluster.
      expect(r.stderr).toMatch(/would run: pg_ctlcluster --skip-systemctl-redirect \S+ main start/);
    } finally {
      fake.dispose();
    }
  });

  (isRoot ? it : it.skip)('stops with what to install when it is not root', () => {
    const fake = pathWithout(['buildah', 'docker-registry']);
    try {
      const r = setup([], { ...process.env, PATH: fake.path }, true);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('missing: buildah docker-registry');
      expect(r.stderr).toContain('apt-get install -y buildah docker-registry');
      expect(r.stderr).not.toContain('installing');
    } finally {
      fake.dispose();
    }
  });
});
