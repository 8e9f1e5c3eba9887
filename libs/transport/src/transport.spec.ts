import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { BLOB_OPS, INTERNAL_ERROR, INTERNAL_TOKEN_HEADER, type WireError } from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';
import { InFlight } from './inflight';
import { hasInternalToken } from './internal-token';
import { LazyBody } from './lazy-body';
import { dispatchRpc } from './rpc-dispatch';
import { Upstreams } from './upstreams';

function listen(handler: (req: IncomingMessage, body: Buffer) => [number, string]): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [status, body] = handler(req, Buffer.concat(chunks));
      res.writeHead(status).end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const urlOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

describe('transport', () => {
  it('the internal token check accepts only the exact token', () => {
    const req = (v?: string) =>
      ({ headers: v === undefined ? {} : { [INTERNAL_TOKEN_HEADER]: v } }) as IncomingMessage;
    expect(hasInternalToken(req('s3cret-s3cret-s3cret'), 's3cret-s3cret-s3cret')).toBe(true);
    for (const v of [undefined, '', 's3cret', 's3cret-s3cret-s3cret ', 'S3CRET-S3CRET-S3CRET'])
      expect(hasInternalToken(req(v), 's3cret-s3cret-s3cret')).toBe(false);
  });

  it('a streamed body is retried on the next replica when the first refuses the connection', async () => {
    const server = await listen((req, body) => [200, `${req.headers[INTERNAL_TOKEN_HEADER]}:${body}`]);
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadUrl = urlOf(dead);
    await new Promise((r) => dead.close(r));
    const upstreams = new Upstreams([deadUrl, urlOf(server)], 'tok', 'blob', 5000);
    try {
      const res = await upstreams.request({
        method: 'PUT',
        path: '/x',
        stream: Readable.from([Buffer.from('chunk-'), Buffer.from('bytes')]),
      });
      expect(await res.body.text()).toBe('tok:chunk-bytes');
    } finally {
      await upstreams.close();
      server.close();
    }
  });

  it('no replica reachable answers 503 UNAVAILABLE, never a stack trace', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadUrl = urlOf(dead);
    await new Promise((r) => dead.close(r));
    const upstreams = new Upstreams([deadUrl], 'tok', 'blob', 2000);
    const err = await upstreams.request({ method: 'GET', path: '/' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).status).toBe(503);
    expect((err as RegistryError).message).not.toMatch(/127\.0\.0\.1/);
    await upstreams.close();
  });

  it('an operation failing because the database is unreachable replies UNAVAILABLE (503), other failures UNKNOWN', async () => {
    const log = new Logger('test');
    jest.spyOn(log, 'warn').mockImplementation(() => undefined);
    jest.spyOn(log, 'error').mockImplementation(() => undefined);
    jest.spyOn(log, 'debug').mockImplementation(() => undefined);
    const ping = (err: Error) =>
      dispatchRpc(BLOB_OPS, { ping: () => Promise.reject(err) } as never, 'ping', {}, log);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const down = await ping(refused);
    expect(down.ok).toBe(false);
    const error = RegistryError.fromJSON((down as { error: WireError }).error);
    expect([error.code, error.status]).toEqual(['UNAVAILABLE', 503]);
    expect(JSON.stringify(down)).not.toContain('5432');
    expect(await ping(new TypeError('a bug'))).toEqual({ ok: false, error: INTERNAL_ERROR });
  });

  it('a lazy body leaves its source unread until pulled, and detached without destroying it', async () => {
    const source = Readable.from([Buffer.from('abc')]);
    const body = new LazyBody(source);
    body.destroy();
    expect(source.destroyed).toBe(false);
    const again = new LazyBody(source);
    const chunks: Buffer[] = [];
    for await (const c of again) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('abc');
  });

  it('in-flight work is waited for, up to a bound', async () => {
    const inflight = new InFlight();
    let release!: () => void;
    const work = inflight.track(() => new Promise<void>((r) => (release = r)));
    expect(await inflight.idle(20)).toBe(false);
    const idle = inflight.idle(5000);
    release();
    await work;
    expect(await idle).toBe(true);
  });

  it('a request body through a plain node server arrives whole', async () => {
    // Guards the test helper itself.
    const server = await listen((_req, body) => [200, String(body.length)]);
    const got = await new Promise<string>((resolve) => {
      const r = request(`${urlOf(server)}/`, { method: 'POST' }, (res) => {
        let t = '';
        res.on('data', (c) => (t += c));
        res.on('end', () => resolve(t));
      });
      r.end(Buffer.alloc(10));
    });
    expect(got).toBe('10');
    server.close();
  });
});
