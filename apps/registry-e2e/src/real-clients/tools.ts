/**
 * Thin wrappers around the real container clients (skopeo, podman, buildah) for the e2e tests in
 * ../real-clients.spec.ts.
 *
 * Every test file run gets a {@link ClientSandbox}: a temp directory holding everything the clients
 * would otherwise read from or write to the machine, so runs are isolated from each other and from
 * whatever the host has configured:
 * - HOME, XDG_* and TMPDIR point into the sandbox;
 * - REGISTRY_AUTH_FILE is a file containing `{}` and DOCKER_CONFIG a directory whose config.json is
 *   `{}` (no credentials; the registry under test runs without auth);
 * - CONTAINERS_REGISTRIES_CONF is an empty file (no mirrors, no short-name aliases, no
 *   `insecure = true` entries: TLS is disabled per command with --tls-verify=false instead);
 * - CONTAINERS_CONF is a containers.conf that only moves the network config dir into the sandbox,
 *   CONTAINERS_STORAGE_CONF a storage.conf using vfs (both replace the system files);
 * - skopeo gets --policy with an insecureAcceptAnything policy. podman/buildah read the system
 *   /etc/containers/policy.json (not every subcommand accepts --signature-policy);
 * - podman/buildah always run with their own --root/--runroot and `--storage-driver vfs` (no
 *   overlay, no fuse, works as root in an unprivileged container), podman additionally with
 *   `--events-backend file --cgroup-manager cgroupfs --tmpdir <sandbox>` (no systemd, no journald).
 *
 * Not isolated: the blob-info cache of containers/image. Running as root, all three clients
 * (containers/image 5.23) keep it in /var/lib/containers/cache/blob-info-cache-v1.boltdb whatever
 * --root says, and there is no flag to move it. It remembers in which repositories of a registry a
 * blob was seen and turns a later push of that blob into another repository into a
 * cross-repository mount (POST /v2/<name>/blobs/uploads/?from=<repo>&mount=<digest>). The tests
 * therefore give every client its own freshly generated image content and every push a fresh
 * repository name, so that pushes really upload, and exercise mounts on purpose in the
 * cross-repository copy tests.
 *
 * What the clients send (skopeo 1.9.3, podman 4.3.1, buildah 1.28.2, seen through a logging proxy
 * in front of Distribution 2.8):
 * - With --tls-verify=false every process first opens a TLS connection (a ClientHello on the plain
 *   HTTP port), then falls back to plain HTTP; every process starts with GET /v2/.
 * - Manifest GETs carry six separate `Accept` header lines (oci manifest, docker v2, docker v1
 *   prettyjws, docker v1, docker list, oci index); Node joins them into one comma-separated value.
 *   No client HEADs a manifest; blob GETs have no Range.
 * - Blob upload: HEAD blob (404) -> POST /blobs/uploads/ (empty) -> one PATCH with the whole blob
 *   (Content-Length when the size is known — skopeo from a layout, configs — otherwise
 *   Transfer-Encoding: chunked: podman/buildah compressing on the fly; never Content-Range) -> PUT
 *   ?digest= with an empty body. No monolithic POST/PUT, no chunking over several PATCHes.
 *   skopeo HEADs a layer twice before uploading it.
 * - Mount: POST ?from=&mount= without a body; 201 expected. Configs are never mounted (they are
 *   read from the source and uploaded). Before mounting, skopeo sometimes HEADs the blob in the
 *   `from` repository.
 * - Lists: instance manifests are PUT by digest, then the list by tag; single images PUT by tag.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REAL_CLIENTS = ['skopeo', 'podman', 'buildah'] as const;
export type RealClient = (typeof REAL_CLIENTS)[number];

/** Like `which`: the absolute path of an executable found on PATH, or undefined. */
export function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, bin);
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function missingClients(clients: readonly string[] = REAL_CLIENTS): string[] {
  return clients.filter((bin) => !which(bin));
}

/** CI=true (as `.ci/run` sets it): every real-client test must run. */
export function inCi(): boolean {
  const ci = process.env.CI ?? '';
  return ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * `describe` when every one of `clients` is on PATH. Otherwise the tests are skipped, loudly; under
 * CI a missing client is a failing test instead, so that a run which tested nothing cannot pass.
 */
export function describeWithClients(
  file: string,
  clients: readonly string[],
  options: { root?: boolean } = {},
): jest.Describe {
  const needs = [...missingClients(clients), ...(options.root && process.getuid?.() !== 0 ? ['root'] : [])];
  if (!needs.length) return describe;
  const what =
    `${file} needs ${needs.join(', ')} ` +
    '(`npm test` as root installs the clients: tools/test-env/setup.sh)';
  if (inCi()) {
    test(`has ${needs.join(', ')} (CI runs every real-client test)`, () => {
      throw new Error(what);
    });
  } else {
    console.warn(`SKIPPED: ${what}; under CI this fails the run`);
  }
  return describe.skip;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** A failed client invocation; the message carries the command line, exit status and both streams. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | string | null,
    readonly stdout: string,
    readonly stderr: string,
    cause?: string,
  ) {
    super(
      [
        `command failed (${exitCode ?? 'killed'}${cause ? `, ${cause}` : ''}): ${command}`,
        `--- stderr ---\n${tail(stderr)}`,
        `--- stdout ---\n${tail(stdout)}`,
      ].join('\n'),
    );
    this.name = 'CommandError';
  }
}

function tail(text: string, max = 8000): string {
  const trimmed = text.trimEnd();
  return trimmed.length > max ? `…${trimmed.slice(-max)}` : trimmed || '(empty)';
}

function quote(arg: string): string {
  return /^[\w@%+=:,./[\]-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** execFile with generous limits that rejects with a {@link CommandError} (stderr included). */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const command = [file, ...args].map(quote).join(' ');
  const verbose = !!process.env.WHARF_E2E_VERBOSE;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env: options.env,
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 240_000,
        killSignal: 'SIGKILL',
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (verbose)
          process.stderr.write(`[${Date.now() - started} ms${error ? ', FAILED' : ''}] $ ${command}\n`);
        if (error) {
          const err = error as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
          reject(
            new CommandError(
              command,
              err.code ?? null,
              stdout,
              stderr,
              err.killed ? 'timed out or killed' : undefined,
            ),
          );
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

/** A containers/storage instance (graph root + run root) used by podman, buildah and skopeo. */
export interface Store {
  name: string;
  root: string;
  runroot: string;
  /** podman --tmpdir (libpod's runtime state). */
  tmpdir: string;
}

/** TLS off everywhere: the registry under test speaks plain HTTP (clients still try TLS first). */
const TLS_OFF = '--tls-verify=false';
/**
 * buildah push/pull retry 3 times (2 s apart) by default, which would hide registry errors. podman
 * 4.3 and `buildah manifest push` have no flag for it (they may retry on their own); skopeo does
 * not retry unless --retry-times is given.
 */
const NO_RETRY = ['--retry', '0'];

export class ClientSandbox {
  private storeCount = 0;

  private constructor(
    readonly dir: string,
    /** Short path for run roots (podman limits them to 50 characters). */
    private readonly shortDir: string,
    readonly env: NodeJS.ProcessEnv,
    readonly policyFile: string,
  ) {}

  static async create(prefix = 'wharf-real-clients-'): Promise<ClientSandbox> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
    const shortDir = await fs.mkdtemp(
      os.tmpdir().length <= 20 ? path.join(os.tmpdir(), 'wrc-') : '/tmp/wrc-',
    );
    const p = (...parts: string[]) => path.join(dir, ...parts);
    for (const sub of [
      'home',
      'xdg-runtime',
      'xdg-config',
      'xdg-data',
      'xdg-cache',
      'tmp',
      'docker-config',
    ]) {
      await fs.mkdir(p(sub), { recursive: true, mode: 0o700 });
    }
    await fs.writeFile(p('auth.json'), '{}\n');
    await fs.writeFile(p('docker-config', 'config.json'), '{}\n');
    await fs.writeFile(p('registries.conf'), '');
    // Keeps buildah/podman from creating /etc/containers/networks (they do even without networking).
    await fs.writeFile(p('containers.conf'), `[network]\nnetwork_config_dir = "${p('networks')}"\n`);
    await fs.writeFile(
      p('storage.conf'),
      [
        '[storage]',
        'driver = "vfs"',
        `graphroot = "${p('default-store', 'root')}"`,
        `runroot = "${p('default-store', 'runroot')}"`,
        '',
      ].join('\n'),
    );
    await fs.writeFile(
      p('policy.json'),
      JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }, null, 2) + '\n',
    );

    const env: NodeJS.ProcessEnv = { ...process.env };
    // Anything that would redirect the clients elsewhere (podman remote, storage overrides, …).
    for (const key of Object.keys(env)) {
      if (
        /^(CONTAINER_HOST|CONTAINER_CONNECTION|CONTAINER_SSHKEY|STORAGE_DRIVER|STORAGE_OPTS|BUILDAH_)/.test(
          key,
        )
      ) {
        delete env[key];
      }
    }
    Object.assign(env, {
      HOME: p('home'),
      XDG_RUNTIME_DIR: p('xdg-runtime'),
      XDG_CONFIG_HOME: p('xdg-config'),
      XDG_DATA_HOME: p('xdg-data'),
      XDG_CACHE_HOME: p('xdg-cache'),
      TMPDIR: p('tmp'),
      REGISTRY_AUTH_FILE: p('auth.json'),
      DOCKER_CONFIG: p('docker-config'),
      CONTAINERS_REGISTRIES_CONF: p('registries.conf'),
      CONTAINERS_CONF: p('containers.conf'),
      CONTAINERS_STORAGE_CONF: p('storage.conf'),
    });
    return new ClientSandbox(dir, shortDir, env, p('policy.json'));
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  /** A new, empty storage; pulls go to fresh stores so that every blob really is fetched. */
  async newStore(name: string): Promise<Store> {
    const n = ++this.storeCount;
    const base = this.path('stores', `${n}-${name}`);
    const store = {
      name,
      root: path.join(base, 'root'),
      // podman refuses a runroot longer than 50 characters (it holds unix sockets).
      runroot: path.join(this.shortDir, String(n)),
      tmpdir: path.join(base, 'libpod-tmp'),
    };
    for (const dir of [store.root, store.runroot, store.tmpdir]) await fs.mkdir(dir, { recursive: true });
    return store;
  }

  /** A fresh directory inside the sandbox (for oci-layout / dir: copies, digest files, …). */
  async newDir(name: string): Promise<string> {
    const dir = this.path('work', `${++this.storeCount}-${name}`);
    await fs.mkdir(dir, { recursive: true });
    return dir;
  }

  async dispose(): Promise<void> {
    await fs.rm(this.shortDir, { recursive: true, force: true });
    await fs.rm(this.dir, { recursive: true, force: true });
  }

  skopeo(args: readonly string[]): Promise<RunResult> {
    return run('skopeo', ['--policy', this.policyFile, ...args], { env: this.env, cwd: this.dir });
  }

  buildah(store: Store, args: readonly string[]): Promise<RunResult> {
    return run(
      'buildah',
      ['--root', store.root, '--runroot', store.runroot, '--storage-driver', 'vfs', ...args],
      { env: this.env, cwd: this.dir },
    );
  }

  podman(store: Store, args: readonly string[]): Promise<RunResult> {
    return run(
      'podman',
      [
        '--root',
        store.root,
        '--runroot',
        store.runroot,
        '--storage-driver',
        'vfs',
        '--events-backend',
        'file',
        '--cgroup-manager',
        'cgroupfs',
        '--tmpdir',
        store.tmpdir,
        ...args,
      ],
      { env: this.env, cwd: this.dir },
    );
  }

  /** `containers-storage:` reference with the store spelled out, for skopeo. */
  storageRef(store: Store, image: string): string {
    return `containers-storage:[vfs@${store.root}+${store.runroot}]${image}`;
  }

  // ---- registry-facing operations, one place for the flags each client needs --------------------

  /**
   * `skopeo copy` (to or from the registry, or between two of its repositories); returns the digest
   * written by --digestfile. TLS verification is off on both sides (ignored for local transports).
   */
  async skopeoCopy(
    src: string,
    dest: string,
    opts: { all?: boolean; format?: 'oci' | 'v2s2'; preserveDigests?: boolean } = {},
  ): Promise<string> {
    const digestFile = path.join(await this.newDir('digest'), 'digest');
    await this.skopeo([
      'copy',
      '--retry-times',
      '0',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      ...(opts.all ? ['--all'] : []),
      ...(opts.format ? ['--format', opts.format] : []),
      // Fails the copy instead of silently converting/recompressing when digests would change.
      ...(opts.preserveDigests ? ['--preserve-digests'] : []),
      '--digestfile',
      digestFile,
      src,
      dest,
    ]);
    return readDigestFile(digestFile);
  }

  async skopeoInspectRaw(ref: string): Promise<Buffer> {
    const { stdout } = await this.skopeo(['inspect', TLS_OFF, '--raw', ref]);
    // --raw prints the bytes as served (skopeo adds nothing, the manifest rarely ends in a newline).
    return Buffer.from(stdout, 'utf8');
  }

  async podmanPush(store: Store, image: string, dest: string, format: 'oci' | 'v2s2') {
    const digestFile = path.join(await this.newDir('digest'), 'digest');
    await this.podman(store, ['push', TLS_OFF, '--format', format, '--digestfile', digestFile, image, dest]);
    return readDigestFile(digestFile);
  }

  async podmanManifestPush(store: Store, list: string, dest: string, format: 'oci' | 'v2s2') {
    const digestFile = path.join(await this.newDir('digest'), 'digest');
    await this.podman(store, [
      'manifest',
      'push',
      TLS_OFF,
      '--all',
      '--format',
      format,
      '--digestfile',
      digestFile,
      list,
      dest,
    ]);
    return readDigestFile(digestFile);
  }

  async buildahPush(store: Store, image: string, dest: string, format: 'oci' | 'v2s2') {
    const digestFile = path.join(await this.newDir('digest'), 'digest');
    await this.buildah(store, [
      'push',
      TLS_OFF,
      ...NO_RETRY,
      '--format',
      format,
      '--digestfile',
      digestFile,
      image,
      dest,
    ]);
    return readDigestFile(digestFile);
  }

  async buildahManifestPush(store: Store, list: string, dest: string, format: 'oci' | 'v2s2') {
    const digestFile = path.join(await this.newDir('digest'), 'digest');
    await this.buildah(store, [
      'manifest',
      'push',
      TLS_OFF,
      '--all',
      '--format',
      format,
      '--digestfile',
      digestFile,
      list,
      dest,
    ]);
    return readDigestFile(digestFile);
  }

  /** `podman pull`; returns the image ID (config digest hex). */
  async podmanPull(store: Store, ref: string, platform?: Platform): Promise<string> {
    const { stdout } = await this.podman(store, ['pull', TLS_OFF, '--quiet', ...platformArgs(platform), ref]);
    return lastLine(stdout);
  }

  /** `buildah pull`; returns the image ID (config digest hex). */
  async buildahPull(store: Store, ref: string, platform?: Platform): Promise<string> {
    const { stdout } = await this.buildah(store, [
      'pull',
      TLS_OFF,
      ...NO_RETRY,
      '--quiet',
      ...platformArgs(platform),
      ref,
    ]);
    return lastLine(stdout);
  }

  async podmanImageInspect(store: Store, image: string): Promise<PodmanImageInspect> {
    const { stdout } = await this.podman(store, ['image', 'inspect', image]);
    const parsed = JSON.parse(stdout) as PodmanImageInspect[];
    if (parsed.length !== 1)
      throw new Error(`podman image inspect ${image}: expected 1 image, got ${parsed.length}`);
    return parsed[0];
  }

  async buildahImageInspect(store: Store, image: string): Promise<BuildahImageInspect> {
    const { stdout } = await this.buildah(store, ['inspect', '--type', 'image', image]);
    return JSON.parse(stdout) as BuildahImageInspect;
  }
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

function platformArgs(platform?: Platform): string[] {
  if (!platform) return [];
  return [
    '--os',
    platform.os,
    '--arch',
    platform.architecture,
    ...(platform.variant ? ['--variant', platform.variant] : []),
  ];
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1].trim();
}

export async function readDigestFile(file: string): Promise<string> {
  const digest = (await fs.readFile(file, 'utf8')).trim();
  if (!/^sha256:[0-9a-f]{64}$/.test(digest))
    throw new Error(`unexpected digest in ${file}: ${JSON.stringify(digest)}`);
  return digest;
}

/** The fields of `podman image inspect` the tests look at. */
export interface PodmanImageInspect {
  Id: string;
  Digest: string;
  RepoDigests: string[];
  RepoTags: string[];
  Architecture: string;
  Os: string;
  ManifestType: string;
  RootFS: { Type: string; Layers: string[] };
}

/** The fields of `buildah inspect --type image` the tests look at. */
export interface BuildahImageInspect {
  FromImageID: string;
  FromImageDigest: string;
  /** The image's manifest, byte for byte as stored (i.e. as pulled). */
  Manifest: string;
  /** The image's config blob, byte for byte. */
  Config: string;
  OCIv1: { architecture: string; os: string; variant?: string; rootfs: { diff_ids: string[] } };
}
