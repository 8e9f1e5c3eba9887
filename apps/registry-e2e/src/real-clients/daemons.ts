/**
 * A containerd and a dockerd of the test file's own, for the docker and ctr e2e tests
 * (../docker-containerd.spec.ts). Nothing of the machine's own Docker or containerd is used or
 * touched, and neither needs systemd:
 * - containerd runs with a config of its own: root, state and the gRPC/ttrpc sockets in the sandbox,
 *   the CRI plugin and the kernel-dependent snapshotters off (ctr unpacks with `native`), and content
 *   not shared between namespaces, so a pull into a fresh namespace really fetches every blob;
 * - dockerd uses that containerd (--containerd), keeps data-root, exec-root, pidfile and its trust
 *   key in the sandbox (the key through --config-file: dockerd 20.10 otherwise writes
 *   /etc/docker/key.json), and runs without iptables, bridge or overlay (vfs);
 * - the docker CLI reads DOCKER_HOST and DOCKER_CONFIG (a config.json per user, so logins do not
 *   leak between users), ctr gets --address.
 *
 * The unix sockets live in a short directory of their own: sun_path holds 107 bytes.
 *
 * A daemon never outlives the test run: both are started under `setpriv --pdeathsig KILL` (the
 * kernel kills them when the jest worker dies, however it dies), are killed synchronously on the
 * worker's `exit`, and {@link DockerDaemons.stop} (afterAll) stops them, unmounts what dockerd left
 * mounted and removes every directory. What a killed run leaves on disk, the next start removes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run, type RunResult, which } from './tools';

export const DOCKER_CLIENTS = ['docker', 'dockerd', 'containerd', 'ctr'] as const;

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

interface Daemon {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  log: string;
}

/** Every daemon this worker started and has not stopped yet, for the last-resort `exit` hook. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export interface DockerDaemonsOptions {
  /** host:port of every registry dockerd may talk to over plain HTTP. */
  insecureRegistries: string[];
  /** Name prefix of the temp directory (kept after stop when WHARF_E2E_KEEP is set). */
  prefix?: string;
}

export class DockerDaemons {
  private readonly daemons: Daemon[] = [];
  private configCount = 0;

  private constructor(
    readonly dir: string,
    /** Holds the sockets; short on purpose (sun_path limit). */
    readonly socketDir: string,
  ) {}

  get containerdAddress(): string {
    return path.join(this.socketDir, 'containerd.sock');
  }

  get dockerHost(): string {
    return `unix://${path.join(this.socketDir, 'docker.sock')}`;
  }

  /** Starts containerd, then dockerd on it; both are ready (answer their clients) on return. */
  static async start(options: DockerDaemonsOptions): Promise<DockerDaemons> {
    killAllOnExit();
    const prefix = options.prefix ?? 'wharf-docker-';
    await sweepStaleSandboxes(prefix);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
    const socketDir = await fs.mkdtemp(
      os.tmpdir().length <= 20 ? path.join(os.tmpdir(), 'wdk-') : '/tmp/wdk-',
    );
    await fs.writeFile(path.join(dir, OWNER_FILE), JSON.stringify({ pid: process.pid, socketDir }));
    const daemons = new DockerDaemons(dir, socketDir);
    try {
      await daemons.startContainerd();
      await daemons.startDockerd(options.insecureRegistries);
    } catch (err) {
      await daemons.stop();
      throw err;
    }
    return daemons;
  }

  private async startContainerd(): Promise<void> {
    const p = (...parts: string[]) => path.join(this.dir, 'containerd', ...parts);
    await fs.mkdir(p(), { recursive: true });
    const config = [
      'version = 2',
      `root = ${JSON.stringify(p('root'))}`,
      `state = ${JSON.stringify(p('state'))}`,
      // Nothing here runs containers; the snapshotters that need kernel support would only log errors.
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",',
      '  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",',
      '  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.overlayfs"]',
      '[grpc]',
      `  address = ${JSON.stringify(this.containerdAddress)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(`${this.containerdAddress}.ttrpc`)}`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '[plugins."io.containerd.metadata.v1.bolt"]',
      '  content_sharing_policy = "isolated"',
      '',
    ].join('\n');
    await fs.writeFile(p('config.toml'), config);
    const daemon = this.spawnDaemon('containerd', ['--config', p('config.toml')]);
    await this.waitReady(daemon, () => this.ctr('default', ['version']));
  }

  private async startDockerd(insecureRegistries: string[]): Promise<void> {
    const p = (...parts: string[]) => path.join(this.dir, 'docker', ...parts);
    await fs.mkdir(p(), { recursive: true });
    await fs.writeFile(
      p('daemon.json'),
      JSON.stringify({ 'deprecated-key-path': p('key.json') }, null, 2) + '\n',
    );
    const daemon = this.spawnDaemon('dockerd', [
      '--config-file',
      p('daemon.json'),
      '--data-root',
      p('data'),
      '--exec-root',
      path.join(this.socketDir, 'exec'),
      '--pidfile',
      p('dockerd.pid'),
      '-H',
      this.dockerHost,
      '--containerd',
      this.containerdAddress,
      '--iptables=false',
      '--ip6tables=false',
      '--ip-masq=false',
      '--bridge=none',
      '--storage-driver=vfs',
      ...insecureRegistries.flatMap((host) => ['--insecure-registry', host]),
    ]);
    const probeConfig = await this.newDockerConfig('probe');
    await this.waitReady(daemon, () =>
      this.docker(probeConfig, ['version', '--format', '{{.Server.Version}}']),
    );
  }

  private spawnDaemon(name: string, args: string[]): Daemon {
    const setpriv = which('setpriv');
    const [file, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', name, ...args]] : [name, args];
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: this.daemonEnv() });
    live.add(child);
    const daemon: Daemon = {
      name,
      child,
      log: '',
      exited: new Promise((resolve) => child.once('close', () => resolve())),
    };
    const keep = (data: Buffer) => {
      // The tail is what explains a failure; a chatty daemon must not grow the worker's heap.
      daemon.log = (daemon.log + data.toString('utf8')).slice(-64 * 1024);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('error', (err) => keep(Buffer.from(`spawn error: ${err.message}\n`)));
    void daemon.exited.then(() => live.delete(child));
    this.daemons.push(daemon);
    return daemon;
  }

  /** Nothing of the caller's environment but PATH: no DOCKER_*, CONTAINERD_*, proxies. */
  private daemonEnv(): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH, HOME: path.join(this.dir, 'home'), TMPDIR: os.tmpdir() };
  }

  private async waitReady(daemon: Daemon, probe: () => Promise<unknown>): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last: unknown;
    for (;;) {
      if (daemon.child.exitCode !== null || daemon.child.signalCode !== null)
        throw new Error(`${daemon.name} exited during start:\n${daemon.log}`);
      try {
        await probe();
        return;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline)
        throw new Error(`${daemon.name} did not get ready in ${START_TIMEOUT_MS} ms: ${last}\n${daemon.log}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** The daemons' output so far (for failure messages). */
  logs(): string {
    return this.daemons.map((d) => `--- ${d.name} ---\n${d.log.slice(-8000)}`).join('\n');
  }

  /**
   * A DOCKER_CONFIG directory of its own (config.json `{}`: no credentials, no helpers), e.g. one
   * per user.
   */
  async newDockerConfig(name: string): Promise<string> {
    const dir = path.join(this.dir, 'docker-config', `${++this.configCount}-${name}`);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.writeFile(path.join(dir, 'config.json'), '{}\n');
    return dir;
  }

  /** The docker CLI against this dockerd, with `dockerConfig` as DOCKER_CONFIG. */
  docker(dockerConfig: string, args: readonly string[]): Promise<RunResult> {
    return run('docker', args, {
      env: {
        PATH: process.env.PATH,
        HOME: path.join(this.dir, 'home'),
        DOCKER_HOST: this.dockerHost,
        DOCKER_CONFIG: dockerConfig,
      },
      timeoutMs: 120_000,
    });
  }

  /** ctr against this containerd, in `namespace` (a fresh namespace is an empty image store). */
  ctr(namespace: string, args: readonly string[]): Promise<RunResult> {
    return run('ctr', ['--address', this.containerdAddress, '--namespace', namespace, ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: path.join(this.dir, 'home'),
        CONTAINERD_SNAPSHOTTER: 'native',
      },
      timeoutMs: 120_000,
    });
  }

  /** Stops dockerd, then containerd (SIGTERM, SIGKILL after a grace period), and removes everything. */
  async stop(): Promise<void> {
    for (const daemon of [...this.daemons].reverse()) {
      if (daemon.child.exitCode === null && daemon.child.signalCode === null) {
        daemon.child.kill('SIGTERM');
        const timer = setTimeout(() => daemon.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await daemon.exited;
        clearTimeout(timer);
      }
    }
    this.daemons.length = 0;
    await unmountUnder([this.dir, this.socketDir]);
    if (process.env.WHARF_E2E_KEEP) {
      await fs.rm(path.join(this.dir, OWNER_FILE), { force: true }); // not swept by the next run
      console.warn(`docker/containerd sandbox kept: ${this.dir} (sockets in ${this.socketDir})`);
      return;
    }
    await fs.rm(this.socketDir, { recursive: true, force: true });
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

/** In every sandbox: which process started it, and where its sockets are. */
const OWNER_FILE = 'owner.json';

/**
 * Removes the sandboxes of test runs that were killed before their afterAll (their daemons died
 * with them, see above; a directory, and the mount dockerd keeps on its data-root, stay behind).
 */
async function sweepStaleSandboxes(prefix: string): Promise<void> {
  let names: string[];
  try {
    names = (await fs.readdir(os.tmpdir())).filter((name) => name.startsWith(prefix));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(os.tmpdir(), name);
    let owner: { pid: number; socketDir: string };
    try {
      owner = JSON.parse(await fs.readFile(path.join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue; // not one of ours, or one being created right now
    }
    if (processAlive(owner.pid)) continue;
    await unmountUnder([dir, owner.socketDir]);
    await fs.rm(owner.socketDir, { recursive: true, force: true });
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * dockerd bind-mounts its data-root onto itself and unmounts it on a clean shutdown only; a killed
 * dockerd leaves the mount behind, which `rm -rf` cannot remove.
 */
async function unmountUnder(dirs: string[]): Promise<void> {
  let mounts: string[];
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
      .filter((m): m is string => !!m && dirs.some((d) => m === d || m.startsWith(`${d}/`)));
  } catch {
    return; // no /proc: nothing we could unmount either
  }
  // Deepest first.
  for (const mount of mounts.sort((a, b) => b.length - a.length)) {
    await run('umount', ['-l', mount]).catch(() => undefined);
  }
}
