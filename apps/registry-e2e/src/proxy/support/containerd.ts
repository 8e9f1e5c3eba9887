/**
 * A containerd of the test file's own (no dockerd: the cache tests only need `ctr`), configured as in
 * ../../real-clients/daemons.ts: root, state and sockets in temp dirs, CRI and kernel snapshotters
 * off, content not shared between namespaces (a fresh namespace fetches every blob). Started under
 * `setpriv --pdeathsig KILL` so it dies with the jest worker.
 *
 * Mirrors go into a hosts directory (`ctr images pull --hosts-dir`): `<dir>/<registry host>/hosts.toml`
 * names the mirror, and containerd asks the mirror with `?ns=<registry host>` on every request.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run, which, type RunResult } from '../../real-clients/tools';

export class Containerd {
  private log = '';
  private readonly exited: Promise<void>;

  private constructor(
    private readonly dir: string,
    private readonly socketDir: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (d: Buffer) => (this.log = (this.log + d.toString()).slice(-32 * 1024));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    process.once('exit', () => child.kill('SIGKILL'));
  }

  get address(): string {
    return path.join(this.socketDir, 'containerd.sock');
  }

  get hostsDir(): string {
    return path.join(this.dir, 'certs.d');
  }

  static async start(): Promise<Containerd> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-proxy-containerd-'));
    // sun_path holds 107 bytes.
    const socketDir = await fs.mkdtemp('/tmp/wpc-');
    const address = path.join(socketDir, 'containerd.sock');
    const config = [
      'version = 2',
      `root = ${JSON.stringify(path.join(dir, 'root'))}`,
      `state = ${JSON.stringify(path.join(dir, 'state'))}`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",',
      '  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",',
      '  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.overlayfs"]',
      '[grpc]',
      `  address = ${JSON.stringify(address)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(`${address}.ttrpc`)}`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '[plugins."io.containerd.metadata.v1.bolt"]',
      '  content_sharing_policy = "isolated"',
      '',
    ].join('\n');
    await fs.writeFile(path.join(dir, 'config.toml'), config);
    const setpriv = which('setpriv');
    const args = ['--config', path.join(dir, 'config.toml')];
    const child = spawn(
      setpriv ?? 'containerd',
      setpriv ? ['--pdeathsig', 'KILL', 'containerd', ...args] : args,
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH, HOME: dir, TMPDIR: os.tmpdir() },
      },
    );
    const c = new Containerd(dir, socketDir, child);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`containerd exited during start:\n${c.log}`);
      try {
        await c.ctr('default', ['version']);
        return c;
      } catch (err) {
        if (Date.now() > deadline) {
          await c.stop();
          throw new Error(`containerd not ready: ${err}\n${c.log}`);
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** `<hostsDir>/<registryHost>/hosts.toml`: pull and resolve through `mirror` (http://host:port). */
  async addMirror(registryHost: string, mirror: string): Promise<void> {
    const dir = path.join(this.hostsDir, registryHost);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(
      path.join(dir, 'hosts.toml'),
      [
        // Not the registry itself (no DNS lookup of a made-up name): a port nothing listens on, so a
        // pull that does not go through the mirror fails.
        'server = "http://127.0.0.1:9"',
        '',
        `[host."${mirror}"]`,
        '  capabilities = ["pull", "resolve"]',
        '',
      ].join('\n'),
    );
  }

  ctr(namespace: string, args: readonly string[]): Promise<RunResult> {
    return run('ctr', ['--address', this.address, '--namespace', namespace, ...args], {
      env: { PATH: process.env.PATH, HOME: this.dir, CONTAINERD_SNAPSHOTTER: 'native' },
      timeoutMs: 120_000,
    });
  }

  /** `ctr images pull --hosts-dir` (optionally `--all-platforms`); returns ctr's output. */
  async pull(namespace: string, ref: string, opts: { allPlatforms?: boolean } = {}): Promise<string> {
    const r = await this.ctr(namespace, [
      'images',
      'pull',
      '--hosts-dir',
      this.hostsDir,
      ...(opts.allPlatforms ? ['--all-platforms'] : []),
      ref,
    ]);
    return r.stdout + r.stderr;
  }

  /** `ctr content ls -q`: digests of the blobs and manifests in the namespace's content store. */
  async contentDigests(namespace: string): Promise<string[]> {
    const { stdout } = await this.ctr(namespace, ['content', 'ls', '-q']);
    return stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }

  logs(): string {
    return this.log;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
      await this.exited;
      clearTimeout(timer);
    }
    await fs.rm(this.socketDir, { recursive: true, force: true });
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
