import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { describeWithClients, which } from '../real-clients/tools';
import { MT, getManifest, http, pushImage, sha256, startWharf, type WharfInstance } from './support';

// skopeo reading what old clients get. skopeo cannot ask a registry for schema1: containers/image
// always lists the schema2 types in Accept (next to the schema1 ones), so a registry rightly serves
// it schema2, and no flag changes that. The rewritten document is therefore fetched as an old client
// would and handed to skopeo through a `dir:` layout, which skopeo reads as it would from a registry.
// With schema1 push on, skopeo then pushes that schema1 image back and pulls it again.

const run = promisify(execFile);
const SKOPEO = which('skopeo');

async function skopeo(args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await run(SKOPEO!, args, { env: { ...process.env, ...env }, maxBuffer: 16 << 20 });
  return stdout;
}

describeWithClients('schema1/skopeo.spec.ts', ['skopeo'])('skopeo and the schema1 rewrite', () => {
  let wharf: WharfInstance;
  let work: string;
  let env: Record<string, string>;
  let policy: string;
  const repo = 'skopeo/app';
  let stored: { body: Buffer; digest: string };
  let rewritten: Buffer;
  let rewrittenDigest: string;
  let layout: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'wharf-s1-skopeo-'));
    // No credentials, no mirrors: skopeo sees only what the test gives it.
    writeFileSync(join(work, 'auth.json'), '{}');
    writeFileSync(join(work, 'registries.conf'), '');
    policy = join(work, 'policy.json');
    writeFileSync(policy, '{"default":[{"type":"insecureAcceptAnything"}]}');
    env = {
      HOME: work,
      REGISTRY_AUTH_FILE: join(work, 'auth.json'),
      CONTAINERS_REGISTRIES_CONF: join(work, 'registries.conf'),
    };
    wharf = await startWharf({ WHARF_SCHEMA1_PUSH: 'true' });
    const tar = Buffer.concat([randomBytes(512), Buffer.alloc(1536)]);
    const layer = gzipSync(tar);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Env: ['A=<&>'] },
        rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
        history: [
          { created: '2024-01-01T00:00:00Z', created_by: 'ADD a /' },
          { created: '2024-01-01T00:00:01Z', created_by: 'CMD ["sh"]', empty_layer: true },
        ],
      }),
    );
    stored = await pushImage(wharf.url, repo, 'v1', { config, layers: [layer] });

    const res = await getManifest(wharf.url, repo, 'v1');
    expect(res.headers['content-type']).toBe(MT.schema1Signed);
    rewritten = res.body;
    rewrittenDigest = String(res.headers['docker-content-digest']);
    // A dir: layout as skopeo writes one: the manifest, the version file, and each blob by hex.
    layout = join(work, 'layout');
    mkdirSync(layout);
    writeFileSync(join(layout, 'manifest.json'), rewritten);
    writeFileSync(join(layout, 'version'), 'Directory Transport Version: 1.1\n');
    const sums: string[] = JSON.parse(rewritten.toString()).fsLayers.map(
      (l: { blobSum: string }) => l.blobSum,
    );
    for (const sum of new Set(sums)) {
      const blob = await http('GET', `${wharf.url}/v2/${repo}/blobs/${sum}`);
      expect(blob.status).toBe(200);
      writeFileSync(join(layout, sum.slice('sha256:'.length)), blob.body);
    }
  });

  afterAll(async () => {
    await wharf?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('reads the tag from the registry as schema2, since it asks for schema2', async () => {
    const raw = await skopeo(
      ['inspect', '--raw', '--tls-verify=false', `docker://${new URL(wharf.url).host}/${repo}:v1`],
      env,
    );
    expect(Buffer.from(raw).equals(stored.body)).toBe(true);
  });

  it('reads the rewritten schema1 document and reports the digest the registry answered', async () => {
    const raw = await skopeo(['inspect', '--raw', `dir:${layout}`], env);
    expect(Buffer.from(raw).equals(rewritten)).toBe(true);
    expect((await skopeo(['manifest-digest', join(layout, 'manifest.json')], env)).trim()).toBe(
      rewrittenDigest,
    );
    const info = JSON.parse(await skopeo(['inspect', `dir:${layout}`], env));
    expect(info).toMatchObject({ Digest: rewrittenDigest, Architecture: 'amd64', Os: 'linux', Tag: 'v1' });
  });

  it('pushes the schema1 image back (schema1 push on) and pulls it again with the digest the registry answers', async () => {
    const host = new URL(wharf.url).host;
    const target = `docker://${host}/skopeo/pushed:old`;
    await skopeo(['copy', '--policy', policy, '--dest-tls-verify=false', `dir:${layout}`, target], env);
    const served = await getManifest(wharf.url, 'skopeo/pushed', 'old');
    expect(served.status).toBe(200);
    expect(served.headers['content-type']).toBe(MT.schema1Signed);
    const info = JSON.parse(await skopeo(['inspect', '--tls-verify=false', target], env));
    expect(info.Digest).toBe(served.headers['docker-content-digest']);
    const back = join(work, 'back');
    await skopeo(['copy', '--policy', policy, '--src-tls-verify=false', target, `dir:${back}`], env);
    expect(existsSync(join(back, 'manifest.json'))).toBe(true);
  });
});
