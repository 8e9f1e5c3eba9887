/**
 * The upstream registries of the pull-through cache tests:
 * - CNCF Distribution 2.8 (Debian's docker-registry) with htpasswd (Basic) auth, on a free port and
 *   a temp dir, which can be stopped and started again on the same port with the same content;
 * - a second Wharf in token mode (htpasswd + policy), so the cache goes through a real Bearer flow.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthFiles, basic, tokenFor } from '../../auth/support';
import { startInProcessRegistry } from '../../support/in-process';
import { freePort } from '../../support/process';
import type { TestRegistry } from '../../support/registry';
import { which } from '../../real-clients/tools';

export const DISTRIBUTION = which('docker-registry') ?? '/usr/bin/docker-registry';

/** What the tests need of any upstream: where it is and how to push seed content into it. */
export interface Upstream {
  kind: 'distribution' | 'wharf-token';
  url: string;
  host: string;
  /** The account the cache uses (pull only where the upstream has a policy). */
  mirror: { user: string; password: string };
  /** Headers that allow pushing to `repo` (Basic, or a Bearer token fetched for the scope). */
  pushHeaders(repo: string): Promise<Record<string, string>>;
  /** The account seeding uses (skopeo --dest-creds). */
  seeder: { user: string; password: string };
  dispose(): Promise<void>;
}

export interface DistributionUpstream extends Upstream {
  kind: 'distribution';
  port: number;
  dir: string;
  running(): boolean;
  /** SIGTERM; resolves once the process is gone. Content stays. */
  stop(): Promise<void>;
  /** Starts again on the same port and directory. */
  start(): Promise<void>;
  output(): string;
}

const DIST_USERS = { seeder: 'seeder-pw', mirror: 'mirror-pw' };

export async function startDistributionUpstream(): Promise<DistributionUpstream> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-proxy-d28-'));
  const files = new AuthFiles(DIST_USERS, '');
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'auth:',
      '  htpasswd:',
      '    realm: distribution',
      `    path: ${files.htpasswd}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '  secret: wharf-proxy-e2e',
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let out = '';

  const start = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    const c = spawn(DISTRIBUTION, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const keep = (d: Buffer) => (out = (out + d).slice(-20_000));
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null)
        throw new Error(`docker-registry exited early:\n${out}`);
      try {
        // 401 without credentials: listening, auth configured.
        const r = await fetch(`${url}/v2/`);
        await r.arrayBuffer();
        if (r.status === 401) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`docker-registry did not start:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  const seeder = { user: 'seeder', password: DIST_USERS.seeder };
  return {
    kind: 'distribution',
    url,
    host: `127.0.0.1:${port}`,
    port,
    dir,
    mirror: { user: 'mirror', password: DIST_USERS.mirror },
    seeder,
    pushHeaders: async () => basic(seeder.user, seeder.password),
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    stop,
    start,
    output: () => out,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      rmSync(files.dir, { recursive: true, force: true });
    },
  };
}

export interface WharfTokenUpstream extends Upstream {
  kind: 'wharf-token';
  registry: TestRegistry;
  files: AuthFiles;
}

const WHARF_USERS = { seeder: 'seeder-pw', mirror: 'mirror-pw', outsider: 'outsider-pw' };
/** The cache's account may only pull, and nothing under private/. */
const WHARF_POLICY = `
rules:
  - subjects: [seeder]
    repositories: ["**"]
    actions: [pull, push, delete]
  - subjects: [mirror]
    repositories: ["lib/**", "team/**"]
    actions: [pull]
`;

/** A Wharf in token mode: every upstream request of the cache needs a Bearer token from its realm. */
export async function startWharfTokenUpstream(): Promise<WharfTokenUpstream> {
  const files = new AuthFiles(WHARF_USERS, WHARF_POLICY);
  const registry = await startInProcessRegistry({
    WHARF_AUTH_MODE: 'token',
    WHARF_AUTH_HTPASSWD: files.htpasswd,
    WHARF_AUTH_POLICY: files.policy,
  });
  const seeder = { user: 'seeder', password: WHARF_USERS.seeder };
  return {
    kind: 'wharf-token',
    url: registry.url,
    host: registry.host,
    registry,
    files,
    mirror: { user: 'mirror', password: WHARF_USERS.mirror },
    seeder,
    pushHeaders: async (repo) => ({
      Authorization: `Bearer ${await tokenFor(registry.url, [`repository:${repo}:pull,push`], seeder)}`,
    }),
    dispose: async () => {
      await registry.stop();
      rmSync(files.dir, { recursive: true, force: true });
    },
  };
}
