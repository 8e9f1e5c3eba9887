import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithClients, which } from '../real-clients/tools';
import { freePort } from '../support/process';
import {
  EMPTY_LAYER_DIGEST,
  MT,
  OLD_CLIENT_ACCEPTS,
  getManifest,
  http,
  pushImage,
  pushList,
  sha256,
  startWharf,
  verifyJwsIndependently,
  type HttpResponse,
  type WharfInstance,
} from './support';
import { TRAP_IMAGES } from './trap-images';

// Differential test against CNCF Distribution 2.8 (Debian's docker-registry, which `npm test`
// installs: tools/test-env/setup.sh): the same images pushed to both, fetched by tag as old clients fetch them, must give
// identical payload bytes, digest and content type. Both sign with the same key, so even the
// signature envelope (apart from the time and the ECDSA signature) must be identical.

const DISTRIBUTION = which('docker-registry') ?? '/usr/bin/docker-registry';

interface Distribution {
  url: string;
  child: ChildProcess;
  dir: string;
  output(): string;
}

async function startDistribution(keyFile: string): Promise<Distribution> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-d28-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
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
      'http:',
      `  addr: 127.0.0.1:${port}`,
      'compatibility:',
      '  schema1:',
      `    signingkeyfile: ${keyFile}`,
      '',
    ].join('\n'),
  );
  const child = spawn(DISTRIBUTION, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited early:\n${out}`);
    try {
      if ((await http('GET', `${url}/v2/`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child, dir, output: () => out };
}

async function stopDistribution(d: Distribution): Promise<void> {
  if (d.child.exitCode === null) {
    const exited = new Promise((r) => d.child.once('exit', r));
    d.child.kill('SIGTERM');
    await exited;
  }
  rmSync(d.dir, { recursive: true, force: true });
}

/** The signed document with the parts that legitimately differ per response blanked out. */
function envelopeOf(doc: Buffer): string {
  return doc
    .toString('utf8')
    .replace(/"signature": "[A-Za-z0-9_-]+"/g, '"signature": "…"')
    .replace(/"protected": "[A-Za-z0-9_-]+"/g, '"protected": "…"');
}

function errorCodesOf(res: HttpResponse): string[] {
  return JSON.parse(res.body.toString('utf8')).errors.map((e: { code: string }) => e.code);
}

interface Compared {
  status: number;
  contentType?: string;
  digest?: string;
}

/** Fetches from both; requires the same answer and returns it. */
async function compareFetch(
  wharf: string,
  distribution: string,
  repo: string,
  tag: string,
  accept: string | undefined,
): Promise<Compared> {
  const [w, d] = [
    await getManifest(wharf, repo, tag, accept),
    await getManifest(distribution, repo, tag, accept),
  ];
  const where = `${repo}:${tag} Accept=${accept ?? '(none)'}`;
  expect({ where, status: w.status }).toEqual({ where, status: d.status });
  if (d.status !== 200) {
    expect({ where, codes: errorCodesOf(w) }).toEqual({ where, codes: errorCodesOf(d) });
    return { status: d.status };
  }
  expect({ where, type: w.headers['content-type'] }).toEqual({ where, type: d.headers['content-type'] });
  expect({ where, digest: w.headers['docker-content-digest'] }).toEqual({
    where,
    digest: d.headers['docker-content-digest'],
  });
  if (d.headers['content-type'] === MT.schema1Signed) {
    const wj = verifyJwsIndependently(w.body);
    const dj = verifyJwsIndependently(d.body);
    // The payload, byte for byte, is the point of the whole test.
    expect({ where, payload: wj.payload.toString('latin1') }).toEqual({
      where,
      payload: dj.payload.toString('latin1'),
    });
    expect(wj.digest).toBe(d.headers['docker-content-digest']);
    expect(w.headers['etag']).toBe(d.headers['etag']);
    expect(envelopeOf(w.body)).toBe(envelopeOf(d.body));
    expect(w.body.length).toBe(d.body.length);
  } else {
    expect(w.body.equals(d.body)).toBe(true);
  }
  return {
    status: 200,
    contentType: String(d.headers['content-type']),
    digest: String(d.headers['docker-content-digest']),
  };
}

const describeWithDistribution = describeWithClients('schema1/differential.spec.ts', ['docker-registry']);

describeWithDistribution('schema1 rewrite, differential against Distribution 2.8', () => {
  let wharf: WharfInstance;
  let distribution: Distribution;
  let keyDir: string;
  const tag = 'V1.0_rc-2';

  beforeAll(async () => {
    keyDir = mkdtempSync(join(tmpdir(), 'wharf-d28-key-'));
    const keyFile = join(keyDir, 'schema1.pem');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    // SEC1 "EC PRIVATE KEY": the form libtrust (and so Distribution) reads.
    writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'sec1' }), { mode: 0o600 });
    distribution = await startDistribution(keyFile);
    wharf = await startWharf({ WHARF_SCHEMA1_SIGNING_KEY: keyFile });
    for (const trap of TRAP_IMAGES) {
      for (const base of [wharf.url, distribution.url])
        await pushImage(base, `diff/${trap.name}`, tag, trap.image);
    }
  });

  afterAll(async () => {
    await wharf?.stop();
    if (distribution) await stopDistribution(distribution);
    rmSync(keyDir, { recursive: true, force: true });
  });

  describe.each(TRAP_IMAGES)('$name: $why', (trap) => {
    it.each(OLD_CLIENT_ACCEPTS)(
      'by tag with $name: same status, type, digest and payload',
      async ({ accept }) => {
        const result = await compareFetch(wharf.url, distribution.url, `diff/${trap.name}`, tag, accept);
        expect(result.status).toBe(trap.fails ? 400 : 200);
        if (!trap.fails) expect(result.contentType).toBe(MT.schema1Signed);
      },
    );

    it('by tag with the schema2 type, and HEAD: same answers', async () => {
      await compareFetch(wharf.url, distribution.url, `diff/${trap.name}`, tag, MT.docker);
      const repo = `diff/${trap.name}`;
      const [w, d] = [
        await getManifest(wharf.url, repo, tag, undefined, 'HEAD'),
        await getManifest(distribution.url, repo, tag, undefined, 'HEAD'),
      ];
      expect(w.status).toBe(d.status);
      if (d.status === 200) {
        expect(w.headers['docker-content-digest']).toBe(d.headers['docker-content-digest']);
        expect(w.headers['content-type']).toBe(d.headers['content-type']);
        expect(w.headers['content-length']).toBe(d.headers['content-length']);
      }
    });
  });

  it('both serve the same gzipped empty tar from the repository once a rewrite named it', async () => {
    const repo = 'diff/empty-layers';
    await getManifest(wharf.url, repo, tag);
    await getManifest(distribution.url, repo, tag);
    const w = await http('GET', `${wharf.url}/v2/${repo}/blobs/${EMPTY_LAYER_DIGEST}`);
    const d = await http('GET', `${distribution.url}/v2/${repo}/blobs/${EMPTY_LAYER_DIGEST}`);
    expect(w.status).toBe(200);
    expect(d.status).toBe(200);
    expect(w.body.equals(d.body)).toBe(true);
  });

  describe('a Docker manifest list', () => {
    const repo = 'diff/list';

    beforeAll(async () => {
      const children = [
        ['arm64', TRAP_IMAGES.find((t) => t.name === 'nested-key-order')!],
        ['amd64-variant', TRAP_IMAGES.find((t) => t.name === 'html-escapes')!],
        ['amd64', TRAP_IMAGES.find((t) => t.name === 'empty-layers')!],
      ] as const;
      for (const base of [wharf.url, distribution.url]) {
        const pushed = [];
        for (const [childTag, trap] of children)
          pushed.push(await pushImage(base, repo, childTag, trap.image));
        const [arm64, amd64v3, amd64] = pushed;
        await pushList(base, repo, 'multi', [
          {
            digest: arm64.digest,
            size: arm64.body.length,
            platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          },
          // Distribution takes the first linux/amd64 entry whatever its variant.
          {
            digest: amd64v3.digest,
            size: amd64v3.body.length,
            platform: { os: 'linux', architecture: 'amd64', variant: 'v3' },
          },
          { digest: amd64.digest, size: amd64.body.length, platform: { os: 'linux', architecture: 'amd64' } },
        ]);
        await pushList(base, repo, 'no-amd64', [
          { digest: arm64.digest, size: arm64.body.length, platform: { os: 'linux', architecture: 'arm64' } },
          {
            digest: amd64.digest,
            size: amd64.body.length,
            platform: { os: 'windows', architecture: 'amd64' },
          },
        ]);
      }
    });

    it.each(OLD_CLIENT_ACCEPTS)(
      'by tag with $name: the same rewritten linux/amd64 entry',
      async ({ accept }) => {
        const result = await compareFetch(wharf.url, distribution.url, repo, 'multi', accept);
        expect(result.contentType).toBe(MT.schema1Signed);
      },
    );

    it('by tag with the schema2 type only: the same linux/amd64 entry as stored', async () => {
      const result = await compareFetch(wharf.url, distribution.url, repo, 'multi', MT.docker);
      expect(result.contentType).toBe(MT.docker);
    });

    it('by tag with the list type: the same list', async () => {
      const result = await compareFetch(wharf.url, distribution.url, repo, 'multi', MT.dockerList);
      expect(result.contentType).toBe(MT.dockerList);
    });

    it('without a linux/amd64 entry: 404 MANIFEST_UNKNOWN from both', async () => {
      const result = await compareFetch(wharf.url, distribution.url, repo, 'no-amd64', undefined);
      expect(result.status).toBe(404);
    });
  });

  it('the rewrite of an image with a random config agrees too', async () => {
    const layer = randomBytes(64);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        random: randomBytes(16).toString('hex'),
        rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
        history: [
          { created: new Date().toISOString(), created_by: 'RUN true' },
          { created_by: 'CMD', empty_layer: true },
        ],
      }),
    );
    for (const base of [wharf.url, distribution.url])
      await pushImage(base, 'diff/random', 'latest', { config, layers: [layer] });
    await compareFetch(wharf.url, distribution.url, 'diff/random', 'latest', undefined);
  });
});
