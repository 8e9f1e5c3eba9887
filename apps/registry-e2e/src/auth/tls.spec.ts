/**
 * WHARF_TLS_CERT / WHARF_TLS_KEY: the gateway serves HTTPS itself, swaps in a renewed certificate
 * without a restart, and advertises https URLs (token realm, Location) to its clients.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestRegistry } from '../support/registry';
import { startInProcessRegistry } from '../support/in-process';
import { which } from '../real-clients/tools';
import { sleep } from './support';

/** A self-signed certificate for 127.0.0.1 written to dir/name.{crt,key}. */
function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

function get(
  url: string,
): Promise<{ status: number; headers: Record<string, unknown>; cert: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false, agent: false }, (res) => {
      const cert = (res.socket as TLSSocket).getPeerCertificate();
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, cert }));
    });
    req.on('error', reject);
    req.end();
  });
}

const describeWithOpenssl = which('openssl') ? describe : describe.skip;

describeWithOpenssl('TLS', () => {
  let dir: string;
  let registry: TestRegistry;
  let live: { cert: string; key: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-tls-'));
    live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
    const first = selfSigned(dir, 'first');
    renameSync(first.cert, live.cert);
    renameSync(first.key, live.key);
    registry = await startInProcessRegistry({
      WHARF_TLS_CERT: live.cert,
      WHARF_TLS_KEY: live.key,
      WHARF_AUTH_MODE: 'token',
    });
  });

  afterAll(async () => {
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS and builds the token realm with https', async () => {
    expect(registry.url).toMatch(/^https:\/\//);
    const r = await get(`${registry.url}/v2/`);
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe(`Bearer realm="${registry.url}/auth/token",service="wharf"`);
    expect(r.cert.subject.CN).toBe('first');
  });

  it('swaps in a renewed certificate without a restart', async () => {
    const next = selfSigned(dir, 'renewed');
    const expected = new X509Certificate(readFileSync(next.cert)).fingerprint256;
    // Key first, then certificate: in between the pair does not match and the old one stays.
    renameSync(next.key, live.key);
    renameSync(next.cert, live.cert);
    let served = '';
    for (let i = 0; i < 40 && served !== expected; i++) {
      await sleep(250);
      served = (await get(`${registry.url}/v2/`)).cert.fingerprint256;
    }
    expect(served).toBe(expected);
  });
});
