import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { Controller, Get, Module, Post, Req, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FASTIFY_OPTIONS, installRegistryEdge } from './edge';
import { RegistryDispatcher } from './registry.dispatcher';

@Controller()
class ServiceRoutes {
  @Get('healthz')
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  @Post('auth/token')
  token(@Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    reply.hijack();
    const chunks: Buffer[] = [];
    req.raw.on('data', (c: Buffer) => chunks.push(c));
    req.raw.on('end', () => {
      reply.raw.statusCode = 200;
      reply.raw.end(`token for ${Buffer.concat(chunks).toString()}`);
    });
  }
}

@Controller()
class ParametricRoute {
  @Get('things/:id')
  thing(): string {
    return 'thing';
  }
}

/** Stands in for the registry: says what it received, body included. */
class FakeDispatcher {
  hold?: Promise<void>;

  async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    await this.hold;
    res.end(`registry ${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
  }

  refuse(_req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(503, { Connection: 'close' }).end('refused');
  }
}

async function start(controllers: unknown[], dispatcher: FakeDispatcher): Promise<NestFastifyApplication> {
  @Module({
    controllers: controllers as never[],
    providers: [{ provide: RegistryDispatcher, useValue: dispatcher }],
  })
  class EdgeSpecModule {}
  const app = await NestFactory.create<NestFastifyApplication>(
    EdgeSpecModule,
    new FastifyAdapter(FASTIFY_OPTIONS),
    {
      bodyParser: false,
      logger: false,
    },
  );
  installRegistryEdge(app);
  return app;
}

/** One raw request per connection, so paths and headers reach the server as written. */
function send(port: number, head: string, body = ''): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      resolve({ status: Number(text.split(' ')[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    socket.end(`${head}\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
}

describe('the gateway edge', () => {
  const dispatcher = new FakeDispatcher();
  let app: NestFastifyApplication;
  let port: number;

  beforeAll(async () => {
    app = await start([ServiceRoutes], dispatcher);
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
  });

  afterAll(async () => {
    await app?.close();
  });

  it.each([
    ['GET /healthz HTTP/1.1'],
    ['HEAD /healthz HTTP/1.1'],
    ['GET /healthz?probe=1 HTTP/1.1'],
    ['GET /heal%74hz HTTP/1.1'],
  ])('%s is a service route: Nest answers it', async (head) => {
    const res = await send(port, head);
    expect(res.status).toBe(200);
    if (head.startsWith('GET')) expect(JSON.parse(res.body)).toEqual({ status: 'ok' });
  });

  it('a service route gets its body unread by Fastify, whatever its type', async () => {
    const res = await send(
      port,
      'POST /auth/token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded',
      'grant_type=password',
    );
    expect(res).toEqual({ status: 200, body: 'token for grant_type=password' });
  });

  it.each([
    ['PUT /v2/a/manifests/t', 'Content-Type: a/b/c'],
    ['PUT /v2/a/manifests/t', 'Content-Type: __proto__'],
    ['PATCH /v2/a/blobs/uploads/u', 'Content-Type: x/y; a="unterminated'],
    ['PROPFIND /v2/', ''],
    ['GET /v2/%zz/tags/list', ''],
    ['POST /healthz', ''],
    ['GET /nope', ''],
    ['GET /%zz', ''],
    ['GET /healthz/', ''],
  ])('%s (%s) goes to the registry as sent', async (request, header) => {
    const head = `${request} HTTP/1.1${header ? `\r\n${header}` : ''}`;
    expect(await send(port, head, '{"x":1}')).toEqual({ status: 200, body: `registry ${request} {"x":1}` });
  });

  it('a route with parameters cannot be served beside the registry', async () => {
    const other = await start([ParametricRoute], new FakeDispatcher());
    await expect(other.listen(0, '127.0.0.1')).rejects.toThrow(/fixed paths/);
    await other.close().catch(() => undefined);
  });

  it('a request arriving on a kept-alive connection once the server closes is refused', async () => {
    const own = new FakeDispatcher();
    const closing = await start([ServiceRoutes], own);
    await closing.listen(0, '127.0.0.1');
    const server = closing.getHttpServer();
    let release!: () => void;
    own.hold = new Promise((r) => (release = r));
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (c) => received.push(c));
    const ended = new Promise((r) => socket.on('close', r));
    socket.write('GET /v2/first HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    const closed = closing.close();
    for (let i = 0; i < 200 && server.listening; i++) await new Promise((r) => setTimeout(r, 10));
    socket.write('GET /v2/second HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    release();
    await ended;
    await closed;
    const text = Buffer.concat(received).toString();
    expect(text).toContain('registry GET /v2/first');
    expect(text).toMatch(/HTTP\/1\.1 503[^]*refused/);
    expect(text).not.toContain('/v2/second');
  });
});
