import 'reflect-metadata';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Module, type LoggerService } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { NatsConnection } from 'nats';
import {
  BLOB_OPS,
  INTERNAL_TOKEN_HEADER,
  replyOf,
  type BlobOps,
  type OpHandlers,
  type Reply,
} from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';
import { Lifecycle } from './health';
import { InFlight } from './inflight';
import { INTERNAL_FASTIFY_OPTIONS, configureInternalPort } from './internal-port';
import { remoteBlobApi } from './remote-blob';
import { RpcClient } from './rpc-client';
import { INTERNAL_SERVER, createRpcController } from './rpc-controller';
import { startService, type RunningService } from './service-runtime';
import { Upstreams } from './upstreams';

const TOKEN = 'internal-port-spec-token';
const HANDLERS = Symbol('HANDLERS');
const quiet: LoggerService = { log: () => undefined, warn: () => undefined, error: () => undefined };

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request as a client that means harm would write it: the path exactly as given. */
function send(
  base: string,
  method: string,
  path: string,
  opts: { body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        headers: { [INTERNAL_TOKEN_HEADER]: TOKEN, ...opts.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** What HTTP parsing refuses never reaches node:http's client: written on a socket instead. */
function sendRaw(base: string, head: string): Promise<Answer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const status = Number(text.split(' ')[1]);
      const headers: IncomingHttpHeaders = {};
      for (const line of text.slice(0, end).split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status, headers, body: text.slice(end + 4) });
    });
    socket.write(`${head}\r\n\r\n`);
  });
}

/** The answer is a Reply the internal clients parse, and it is a failure. */
function failureOf(answer: Answer): { code: string; status?: number } {
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  const reply = replyOf((v) => v)(JSON.parse(answer.body)) as Reply<unknown>;
  if (reply.ok || !('error' in reply)) throw new Error(`not a failure: ${answer.body}`);
  return { code: reply.error.errors[0].code, status: reply.error.status };
}

describe('an internal port answers every request with a Reply', () => {
  let service: RunningService;

  beforeAll(async () => {
    const handlers = {
      ping: async () => ({ service: 'blob' }),
      getUpload: async () => {
        throw new RegistryError('BLOB_UPLOAD_UNKNOWN');
      },
    } as unknown as OpHandlers<BlobOps>;

    @Module({
      controllers: [createRpcController('blob', 'spec', BLOB_OPS, HANDLERS)],
      providers: [
        { provide: HANDLERS, useValue: handlers },
        { provide: INTERNAL_SERVER, useValue: { token: TOKEN, inflight: new InFlight() } },
      ],
    })
    class InternalPortModule {}

    service = await startService({
      module: { module: InternalPortModule },
      http: { host: '127.0.0.1', port: 0 },
      adapter: new FastifyAdapter(INTERNAL_FASTIFY_OPTIONS),
      logger: quiet,
      lifecycle: new Lifecycle(),
      shutdownTimeoutMs: 2000,
      configure: configureInternalPort,
    });
  });

  afterAll(async () => {
    await service?.close();
  });

  it('the routes it has still answer', async () => {
    const res = await send(service.url, 'POST', '/internal/rpc/blob/ping', { body: '{}' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ ok: true, value: { service: 'blob' } });
  });

  it.each([
    ['the root', 'GET', '/'],
    ['an unknown path', 'GET', '/nope'],
    ['another API version', 'GET', '/v3/'],
    ['an escaped NUL', 'GET', '/%00'],
    ['an undecodable escape', 'GET', '/%zz'],
    ['an undecodable upload id', 'PUT', '/internal/blob/uploads/%zz?repository=x'],
    ['an empty first segment', 'GET', '//'],
    ['a path of 5,000 characters', 'GET', `/${'x'.repeat(5000)}`],
    ['an upload id of 2,600 characters', 'PATCH', `/internal/blob/uploads/${'a'.repeat(2600)}?repository=x`],
    ['an operation it does not have', 'POST', '/internal/rpc/blob/nope'],
    ['an operation name of 2,600 characters', 'POST', `/internal/rpc/blob/${'a'.repeat(2600)}`],
    ['GET on an operation', 'GET', '/internal/rpc/blob/ping'],
    ['DELETE on an operation', 'DELETE', '/internal/rpc/blob/ping'],
  ])('%s (%s) answers 404 UNSUPPORTED', async (_what, method, path) => {
    const res = await send(service.url, method, path, { body: '{}' });
    expect(res.status).toBe(404);
    expect(failureOf(res)).toEqual({ code: 'UNSUPPORTED', status: 404 });
  });

  it.each([
    ['a body that is not JSON', 'ping', '{"unterminated'],
    ['a request of the wrong shape', 'getUpload', '{"repository":1}'],
  ])('%s answers a Reply carrying UNKNOWN', async (_what, op, body) => {
    const res = await send(service.url, 'POST', `/internal/rpc/blob/${op}`, {
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(failureOf(res).code).toBe('UNKNOWN');
  });

  it('a Content-Type the framework cannot parse answers 415 with a Reply', async () => {
    const res = await send(service.url, 'POST', '/internal/rpc/blob/ping', {
      body: '{}',
      headers: { 'content-type': '/' },
    });
    expect(res.status).toBe(415);
    expect(failureOf(res).code).toBe('UNKNOWN');
  });

  it('headers over the HTTP parser limit answer 431 with a Reply, then the connection closes', async () => {
    const res = await sendRaw(
      service.url,
      `POST /internal/rpc/blob/ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}`,
    );
    expect(res.status).toBe(431);
    expect(failureOf(res).code).toBe('UNKNOWN');
  });

  it('a request HTTP parsing rejects answers 400 with a Reply', async () => {
    const res = await sendRaw(service.url, 'POST /internal/rpc/blob/ping HTTP/1.1\r\nContent-Length: abc');
    expect(res.status).toBe(400);
    expect(failureOf(res).code).toBe('UNKNOWN');
  });

  it("an upload id no route takes reaches the gateway's client as 404 UNSUPPORTED, not a parse failure", async () => {
    const upstreams = new Upstreams([service.url], TOKEN, 'blob', 5000);
    const blobs = remoteBlobApi({ methods: () => ({}) } as unknown as RpcClient<BlobOps>, upstreams);
    try {
      const err = await blobs
        .appendUpload({
          repository: 'x',
          id: 'a'.repeat(2600),
          chunk: { body: Readable.from([Buffer.from('x')]) },
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect({ code: (err as RegistryError).code, status: (err as RegistryError).status }).toEqual({
        code: 'UNSUPPORTED',
        status: 404,
      });
    } finally {
      await upstreams.close();
    }
  });
});

const UPLOAD_ID = '00000000-0000-4000-8000-000000000000';

describe('an answer the internal clients cannot read', () => {
  let server: Server;
  let answer: { status: number; body: string };
  let upstreams: Upstreams;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(answer.status, { 'content-type': 'text/html' }).end(answer.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    upstreams = new Upstreams(
      [`http://127.0.0.1:${(server.address() as AddressInfo).port}`],
      TOKEN,
      'blob',
      5000,
    );
  });

  afterAll(async () => {
    await upstreams.close();
    await new Promise((r) => server.close(r));
  });

  const CASES: [string, number, string, string, number][] = [
    ["a proxy's error page", 502, '<html>Bad Gateway</html>', 'UNAVAILABLE', 503],
    ['a gateway timeout with no body', 504, '', 'UNAVAILABLE', 503],
    ["the framework's own 404", 404, '{"message":"Cannot PATCH /x","statusCode":404}', 'UNKNOWN', 500],
    ['JSON that is not a reply', 200, '{"x":1}', 'UNKNOWN', 500],
    ['a reply cut short', 200, '{"ok":true,"val', 'UNKNOWN', 500],
    ['a success of the wrong shape', 200, '{"ok":true,"value":{"id":1}}', 'UNKNOWN', 500],
  ];

  it.each(CASES)(
    '%s becomes a RegistryError for an upload chunk, a blob read and an RPC call',
    async (_what, status, body, code, httpStatus) => {
      answer = { status, body };
      // The RPC client goes over HTTP when NATS says the reply would not fit a message.
      const nats = {
        request: async () => ({
          data: Buffer.from(JSON.stringify({ response: { ok: false, oversized: true } })),
        }),
      } as unknown as NatsConnection;
      const rpc = new RpcClient(nats, 'blob', 'spec', BLOB_OPS, upstreams, 5000);
      const blobs = remoteBlobApi(rpc, upstreams);
      const failures: (() => Promise<unknown>)[] = [
        () =>
          blobs.appendUpload({
            repository: 'x',
            id: UPLOAD_ID,
            chunk: { body: Readable.from([Buffer.from('x')]) },
          }),
        () => blobs.getUpload({ repository: 'x', id: UPLOAD_ID }),
      ];
      // A 200 to a blob read is its bytes, whatever they are; only a failure is parsed.
      if (status !== 200) failures.push(() => blobs.openBlob({ digest: `sha256:${'a'.repeat(64)}` }));
      for (const call of failures) {
        const err = await call().then(
          () => new Error('resolved'),
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(RegistryError);
        expect({ code: (err as RegistryError).code, status: (err as RegistryError).status }).toEqual({
          code,
          status: httpStatus,
        });
      }
    },
  );
});
