/**
 * WHARF_S3_REDIRECT=true in the distributed shape: a blob GET that passed access control and the
 * repository link check answers 307 to a URL presigned for WHARF_S3_PUBLIC_ENDPOINT, so the bytes
 * go from the store to the client without passing the registry. The S3 test server checks SigV4,
 * including the host: it listens on 127.0.0.1 and the public endpoint says `localhost`, so a URL
 * signed for the internal endpoint would be refused when the client follows it.
 */
import { randomBytes } from 'node:crypto';
import { skopeoDriver } from '../real-clients/drivers';
import { buildFixtureSet } from '../real-clients/fixtures';
import { KINDS } from '../real-clients/kinds';
import { verifyServed } from '../real-clients/checks';
import { ClientSandbox, describeWithClients } from '../real-clients/tools';
import { AuthFiles, basic, http, sha256 } from '../auth/support';
import {
  spawnService,
  startDistributedRegistry,
  stopProcess,
  type DistributedCluster,
} from '../support/distributed';

const USERS = { alice: 'alice-pw', bob: 'bob-pw' };
const POLICY = `
rules:
  - subjects: [alice]
    repositories: ["alice/**"]
    actions: [pull, push]
  - subjects: [anonymous]
    repositories: ["open/**"]
    actions: [pull, push]
`;
const alice = basic('alice', USERS.alice);

describe('distributed shape: blob GET redirects to presigned S3 URLs', () => {
  let cluster: DistributedCluster;
  let files: AuthFiles;
  let url: string;
  let publicHost: string;
  const data = randomBytes(300 * 1024 + 7);
  const digest = sha256(data);

  /** The Host of each GetObject the store received since the last call. */
  const reads = (): string[] =>
    cluster
      .s3!.takeOperations()
      .filter((op) => op.name === 'GetObject')
      .map((op) => op.host);

  const pushBlob = async (repo: string, headers: Record<string, string>, body: Buffer): Promise<void> => {
    const r = await http(`${url}/v2/${repo}/blobs/uploads/?digest=${sha256(body)}`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/octet-stream' },
      body,
    });
    expect(r.status).toBe(201);
  };

  beforeAll(async () => {
    files = new AuthFiles(USERS, POLICY);
    cluster = await startDistributedRegistry({
      storage: 's3',
      replicas: { gateway: 1, metadata: 1, blob: 1 },
      env: {
        WHARF_S3_REDIRECT: 'true',
        WHARF_AUTH_MODE: 'basic',
        WHARF_AUTH_HTPASSWD: files.htpasswd,
        WHARF_AUTH_POLICY: files.policy,
      },
      s3Env: (s3) => ({ WHARF_S3_PUBLIC_ENDPOINT: `http://localhost:${s3.port}` }),
    });
    url = cluster.gateways[0];
    publicHost = `localhost:${cluster.s3!.port}`;
    await pushBlob('alice/app', alice, data);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('GET answers 307 with the digest to a URL signed for the public endpoint; the store serves the exact bytes', async () => {
    cluster.s3!.takeOperations();
    const res = await http(`${url}/v2/alice/app/blobs/${digest}`, { headers: alice });
    expect(res.status).toBe(307);
    expect(res.header('docker-content-digest')).toBe(digest);
    expect(res.text).toBe('');
    const location = new URL(res.header('location')!);
    expect(location.host).toBe(publicHost);
    expect(location.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    // Presigning is local: answering the 307 read nothing from the store.
    expect(reads()).toEqual([]);

    // The client follows without the registry's credentials (they must not cross hosts).
    const fetched = await fetch(location);
    expect(fetched.status).toBe(200);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(data)).toBe(true);
    expect(reads()).toEqual([publicHost]);

    // A tampered URL (another object) is refused by the store.
    const other = new URL(location);
    other.pathname = other.pathname.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    expect((await fetch(other)).status).toBe(403);
  });

  it('a Range GET is redirected too, and the store answers the Range the client sends along', async () => {
    const res = await http(`${url}/v2/alice/app/blobs/${digest}`, {
      headers: { ...alice, Range: 'bytes=1000-1999' },
    });
    expect(res.status).toBe(307);
    const ranged = await fetch(res.header('location')!, { headers: { Range: 'bytes=1000-1999' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 1000-1999/${data.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(1000, 2000))).toBe(true);
  });

  it('HEAD, If-None-Match and an unsatisfiable Range are answered by the registry itself', async () => {
    const head = await http(`${url}/v2/alice/app/blobs/${digest}`, { method: 'HEAD', headers: alice });
    expect(head.status).toBe(200);
    expect(head.header('content-length')).toBe(String(data.length));
    expect(head.header('docker-content-digest')).toBe(digest);
    expect(head.header('location')).toBeNull();

    const cached = await http(`${url}/v2/alice/app/blobs/${digest}`, {
      headers: { ...alice, 'If-None-Match': `"${digest}"` },
    });
    expect(cached.status).toBe(304);
    expect(cached.header('location')).toBeNull();

    const beyond = await http(`${url}/v2/alice/app/blobs/${digest}`, {
      headers: { ...alice, Range: `bytes=${data.length + 10}-${data.length + 20}` },
    });
    expect(beyond.status).toBe(416);
    expect(beyond.header('content-range')).toBe(`bytes */${data.length}`);
    expect(beyond.header('location')).toBeNull();
  });

  it('hands out no URL before access control and the repository link check passed', async () => {
    const anonymous = await http(`${url}/v2/alice/app/blobs/${digest}`);
    expect(anonymous.status).toBe(401);
    const bob = await http(`${url}/v2/alice/app/blobs/${digest}`, { headers: basic('bob', USERS.bob) });
    expect(bob.status).toBe(403);
    expect(bob.json().errors[0].code).toBe('DENIED');
    // Knowing the digest grants nothing in a repository the blob is not linked into.
    const unlinked = await http(`${url}/v2/alice/other/blobs/${digest}`, { headers: alice });
    expect(unlinked.status).toBe(404);
    expect(unlinked.json().errors[0].code).toBe('BLOB_UNKNOWN');
    const elsewhere = await http(`${url}/v2/open/anything/blobs/${digest}`);
    expect(elsewhere.status).toBe(404);
    const invalid = await http(`${url}/v2/alice/app/blobs/sha256:not-hex`, { headers: alice });
    expect(invalid.status).toBe(400);
    expect(invalid.json().errors[0].code).toBe('DIGEST_INVALID');
    for (const r of [anonymous, bob, unlinked, elsewhere, invalid]) expect(r.header('location')).toBeNull();
  });

  describeWithClients('distributed/redirect.spec.ts', ['skopeo'])('skopeo', () => {
    let sb: ClientSandbox;
    beforeAll(async () => {
      sb = await ClientSandbox.create('wharf-redirect-skopeo-');
    });
    afterAll(async () => {
      await sb?.dispose();
    });

    it('pushes an image and pulls it back through the redirecting registry, layers from the store', async () => {
      const info = KINDS.find((k) => k.kind === 'oci')!;
      const set = await buildFixtureSet(sb, undefined, 'redirect-oci');
      const driver = skopeoDriver(sb);
      const registry = { url, host: new URL(url).host };
      const repository = 'open/skopeo';
      const pushed = await driver.push(set, info, `${registry.host}/${repository}:v1`);
      const summary = await verifyServed(sb, registry, { repository, tag: 'v1', digest: pushed }, info);
      cluster.s3!.takeOperations();
      await driver.pullAndCheck({
        ref: `${registry.host}/${repository}:v1`,
        expected: summary,
        info,
        repository: `${registry.host}/${repository}`,
      });
      // Every blob skopeo fetched (config and layers) came from the store under its public name,
      // none through the blob service (which reaches the store as 127.0.0.1).
      const hosts = reads();
      expect(hosts.length).toBeGreaterThanOrEqual(2);
      expect(new Set(hosts)).toEqual(new Set([publicHost]));
    });
  });

  it('when the blob service does not redirect, the gateway streams the bytes itself', async () => {
    const [blob] = cluster.services.blob;
    await stopProcess(blob);
    cluster.services.blob[0] = await spawnService('blob', blob.port, {
      ...cluster.env,
      WHARF_S3_REDIRECT: 'false',
    });
    reads();
    const res = await fetch(`${url}/v2/alice/app/blobs/${digest}`, { headers: alice, redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
    expect(reads()).toEqual([`127.0.0.1:${cluster.s3!.port}`]);
  });
});
