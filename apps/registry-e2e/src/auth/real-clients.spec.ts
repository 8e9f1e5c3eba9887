/**
 * skopeo and podman against Wharf with access control, in both modes: they log in (podman login,
 * skopeo login, --creds/--dest-creds), push and pull where the policy allows, and are refused
 * elsewhere. In token mode they go through the built-in token service exactly as they would through
 * Distribution's; in basic mode they send htpasswd credentials on every request.
 *
 * Client isolation (HOME, auth files, storage) comes from real-clients/tools.ts; every user gets an
 * auth file of their own (--authfile) so logins do not leak between users.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { TestRegistry } from '../support/registry';
import { startInProcessRegistry } from '../support/in-process';
import { buildFixtureSet, type FixtureSet } from '../real-clients/fixtures';
import { ClientSandbox, describeWithClients, type Store } from '../real-clients/tools';
import { AuthFiles } from './support';

const TLS_OFF = '--tls-verify=false';
const USERS = { alice: 'alice-pw', bob: 'bob-pw', rita: 'rita-pw' };
const POLICY = `
groups:
  readers: [rita]
rules:
  - subjects: [alice]
    repositories: ["alice/**", "public/**"]
    actions: [pull, push, delete]
  - subjects: [bob]
    repositories: ["bob/**"]
    actions: [pull, push]
  - subjects: ["group:readers"]
    repositories: ["alice/**"]
    actions: [pull]
  - subjects: [anonymous]
    repositories: ["public/**"]
    actions: [pull]
`;

const describeWithRealClients = describeWithClients('auth/real-clients.spec.ts', ['skopeo', 'podman']);

describeWithRealClients.each(['basic', 'token'] as const)('%s mode with real clients', (mode) => {
  const runId = randomBytes(3).toString('hex');
  let registry: TestRegistry;
  let files: AuthFiles;
  let sb: ClientSandbox;
  let set: FixtureSet;
  let store: Store;
  let host: string;
  const authFile = (user: string) => sb.path(`auth-${user}.json`);
  const repo = (path: string) => `${host}/${path}-${runId}`;

  beforeAll(async () => {
    files = new AuthFiles(USERS, POLICY);
    registry = await startInProcessRegistry({
      WHARF_AUTH_MODE: mode,
      WHARF_AUTH_HTPASSWD: files.htpasswd,
      WHARF_AUTH_POLICY: files.policy,
    });
    host = registry.host;
    sb = await ClientSandbox.create('wharf-auth-clients-');
    set = await buildFixtureSet(sb, undefined, `auth-${mode}-${runId}`);
    store = await sb.newStore('podman');
    for (const user of [...Object.keys(USERS), 'nobody']) await fs.writeFile(authFile(user), '{}\n');
  });

  afterAll(async () => {
    await registry?.stop();
    await sb?.dispose();
  });

  const skopeoCopy = (src: string, dest: string, auth: string[]) =>
    sb.skopeo([
      'copy',
      '--retry-times',
      '0',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      ...auth,
      src,
      dest,
    ]);
  const podman = (args: string[]) => sb.podman(store, args);

  it('skopeo login accepts the right password and refuses a wrong one', async () => {
    await sb.skopeo([
      'login',
      TLS_OFF,
      '--authfile',
      authFile('alice'),
      '-u',
      'alice',
      '-p',
      USERS.alice,
      host,
    ]);
    expect(await fs.readFile(authFile('alice'), 'utf8')).toContain(host);
    await expect(
      sb.skopeo(['login', TLS_OFF, '--authfile', authFile('nobody'), '-u', 'alice', '-p', 'wrong', host]),
    ).rejects.toThrow();
  });

  it('skopeo pushes where the policy allows, with a login and with --dest-creds', async () => {
    await skopeoCopy(set.sources.oci, `docker://${repo('alice/img')}:v1`, [
      '--dest-authfile',
      authFile('alice'),
    ]);
    await skopeoCopy(set.sources.docker, `docker://${repo('public/base')}:v1`, [
      '--dest-creds',
      `alice:${USERS.alice}`,
    ]);
  });

  it('skopeo is refused a push outside the policy', async () => {
    await expect(
      skopeoCopy(set.sources.oci, `docker://${repo('alice/img')}:bob`, ['--dest-creds', `bob:${USERS.bob}`]),
    ).rejects.toThrow(/denied|forbidden|unauthorized|authentication required/i);
  });

  it('skopeo reads with --creds where allowed and is refused anonymously', async () => {
    const { stdout } = await sb.skopeo([
      'inspect',
      TLS_OFF,
      '--creds',
      `rita:${USERS.rita}`,
      '--raw',
      `docker://${repo('alice/img')}:v1`,
    ]);
    expect(JSON.parse(stdout).mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    await expect(
      sb.skopeo([
        'inspect',
        TLS_OFF,
        '--authfile',
        authFile('nobody'),
        '--raw',
        `docker://${repo('alice/img')}:v1`,
      ]),
    ).rejects.toThrow();
  });

  it('podman logs in and pulls where the policy allows', async () => {
    await podman(['login', TLS_OFF, '--authfile', authFile('rita'), '-u', 'rita', '-p', USERS.rita, host]);
    await podman(['pull', TLS_OFF, '--quiet', '--authfile', authFile('rita'), `${repo('alice/img')}:v1`]);
    // Anonymous may pull public/**.
    await podman(['pull', TLS_OFF, '--quiet', '--authfile', authFile('nobody'), `${repo('public/base')}:v1`]);
  });

  it('podman is refused a pull and a push outside the policy', async () => {
    await podman(['login', TLS_OFF, '--authfile', authFile('bob'), '-u', 'bob', '-p', USERS.bob, host]);
    await expect(
      podman(['pull', TLS_OFF, '--quiet', '--authfile', authFile('bob'), `${repo('alice/img')}:v1`]),
    ).rejects.toThrow();
    await expect(
      podman([
        'push',
        TLS_OFF,
        '--authfile',
        authFile('rita'),
        `${repo('alice/img')}:v1`,
        `${repo('alice/img')}:rita`,
      ]),
    ).rejects.toThrow();
  });

  it('podman pushes blobs it saw in a repository it cannot read: the mount falls back to an upload', async () => {
    // podman remembers alice/img holds these layers and tries to mount them from there for bob.
    await podman([
      'push',
      TLS_OFF,
      '--authfile',
      authFile('bob'),
      `${repo('alice/img')}:v1`,
      `${repo('bob/copy')}:v1`,
    ]);
    await podman(['pull', TLS_OFF, '--quiet', '--authfile', authFile('bob'), `${repo('bob/copy')}:v1`]);
  });
});
