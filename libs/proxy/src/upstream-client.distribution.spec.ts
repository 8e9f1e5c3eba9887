import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { sha256 } from '@wharf/oci';
import { UpstreamClient, UpstreamError } from './upstream-client';

/** The client against Debian's CNCF Distribution with htpasswd auth, when it is installed. */
const BINARY = '/usr/bin/docker-registry';
const USER = 'proxy';
const PASSWORD = 'distribution-pw';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

function call(method: string, url: string, body?: Buffer): Promise<{ status: number; location?: string }> {
  const auth = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method,
      headers: { authorization: auth, 'content-length': body?.length ?? 0 },
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode!, location: res.headers.location });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UpstreamError);
  return e as UpstreamError;
}

(existsSync(BINARY) ? describe : describe.skip)('UpstreamClient against Distribution', () => {
  let dir: string;
  let url: string;
  let registry: ChildProcess;
  const clients: UpstreamClient[] = [];
  const client = (password?: string) => {
    const c = new UpstreamClient({
      name: 'dist',
      url,
      hosts: [],
      tagTtlMs: 1000,
      default: false,
      ...(password ? { username: USER, password } : {}),
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-proxy-distribution-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    writeFileSync(join(dir, 'htpasswd'), `${USER}:${bcrypt.hashSync(PASSWORD, 4)}\n`);
    writeFileSync(
      join(dir, 'config.yml'),
      [
        'version: 0.1',
        'log: { level: error }',
        `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} } }`,
        `http: { addr: "127.0.0.1:${port}" }`,
        `auth: { htpasswd: { realm: wharf-test, path: ${join(dir, 'htpasswd')} } }`,
      ].join('\n'),
    );
    registry = spawn(BINARY, ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      const up = await call('GET', `${url}/v2/`).catch(() => undefined);
      if (up?.status === 200) break;
      if (i === 100) throw new Error('Distribution did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 20_000);

  afterAll(() => {
    clients.forEach((c) => c.close());
    registry?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('authenticates with Basic: a missing manifest is not-found, not denied', async () => {
    const e = await failure(client(PASSWORD).getManifest('library/missing', 'latest'));
    expect(e).toMatchObject({ failure: 'not-found', status: 404 });
    expect(e.reason).toMatch(/^upstream dist: 404 Not Found: (MANIFEST|NAME)_UNKNOWN/);
    expect((await failure(client(PASSWORD).headManifest('library/missing', 'latest'))).failure).toBe(
      'not-found',
    );
  });

  it('is denied without or with wrong credentials, and never says the password', async () => {
    expect((await failure(client().getManifest('library/missing', 'latest'))).failure).toBe('denied');
    const e = await failure(client('not-it').getManifest('library/missing', 'latest'));
    expect(e).toMatchObject({ failure: 'denied', status: 401 });
    expect(e.reason).not.toContain('not-it');
  });

  it('reads a pushed blob back (HEAD and streamed GET)', async () => {
    const blob = Buffer.from('layer bytes from distribution');
    const digest = sha256(blob);
    const started = await call('POST', `${url}/v2/team/app/blobs/uploads/`);
    expect(started.status).toBe(202);
    const put = new URL(started.location!, url);
    put.searchParams.set('digest', digest);
    expect((await call('PUT', put.href, blob)).status).toBe(201);

    const c = client(PASSWORD);
    expect(await c.headBlob('team/app', digest)).toEqual({ size: blob.length });
    const { size, body } = await c.getBlob('team/app', digest);
    expect(size).toBe(blob.length);
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(blob)).toBe(true);
  });
});
