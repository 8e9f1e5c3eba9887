import { spawn, type SendHandle } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/**
 * More listening descriptors for one HTTP port, so that a busy server still accepts a burst of new
 * connections at once.
 *
 * libuv accepts one connection per listening descriptor per event-loop iteration (libuv PR 3696),
 * and an iteration of a registry serving hundreds of keep-alive connections takes tens of
 * milliseconds: 256 nodes connecting together waited up to 7 s for accept(2) while every request
 * on an open connection was answered in milliseconds (docs/adr/0022-accept-fan-out.md). Each extra
 * descriptor refers to the same listening socket, so every iteration accepts up to one connection
 * per descriptor; an accepted socket is handed to the HTTP(S) server as Node documents it for
 * injected connections (`server.emit('connection', socket)`).
 *
 * Node 20 cannot open a second descriptor of a socket in-process (`reusePort` arrives with 22.12),
 * so a short-lived child process echoes the listening handle back over IPC: each message carries a
 * new descriptor (SCM_RIGHTS). The child never listens on it (a raw handle, not a net.Server), so it
 * cannot take a connection itself.
 */
export const ACCEPT_DESCRIPTORS = 32;

const ECHO = [
  "process.on('message', (m, h) => process.send(m, h, () => h.close()));",
  "process.on('disconnect', () => process.exit(0));",
].join('');

export interface AcceptFanOut {
  /** How many descriptors accept for the port, the server's own included. */
  readonly descriptors: number;
  /** Stops the extra descriptors from accepting; the server's own is closed by the server. */
  close(): void;
}

export async function fanOutAccept(server: Server, descriptors = ACCEPT_DESCRIPTORS): Promise<AcceptFanOut> {
  const extras: Server[] = [];
  let closed = false;
  const fanOut: AcceptFanOut = {
    get descriptors() {
      return extras.length + 1;
    },
    close() {
      closed = true;
      for (const extra of extras.splice(0)) extra.close();
    },
  };
  const handle = (server as unknown as { _handle?: object })._handle;
  if (!handle || descriptors <= 1) return fanOut;
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['-e', ECHO], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env });
  const gone = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', () => reject(new Error('the handle echo process exited')));
  });
  gone.catch(() => undefined);
  const echo = () =>
    Promise.race([
      gone,
      new Promise<object>((resolve, reject) => {
        child.once('message', (_m, h) =>
          h ? resolve(h as object) : reject(new Error('no handle came back')),
        );
        child.send('listen', handle as SendHandle, (e) => e && reject(e));
      }),
    ]);
  try {
    for (let i = 1; i < descriptors && !closed; i++) {
      const copy = await echo();
      const extra = createServer((socket: Socket) => server.emit('connection', socket));
      await new Promise<void>((resolve) => extra.listen(copy, resolve));
      if (closed) extra.close();
      else extras.push(extra);
    }
  } finally {
    if (child.connected) child.disconnect();
    child.kill();
  }
  return fanOut;
}

/**
 * Gives the app's HTTP port extra accept descriptors once it listens, closed before the server
 * closes (Fastify's onListen and preClose hooks). Call before `app.listen`. Starting them takes a
 * child process and some tens of milliseconds, so the port answers at once and gains them shortly.
 */
export function acceptBursts(app: NestFastifyApplication, onError: (e: Error) => void): void {
  const fastify = app.getHttpAdapter().getInstance();
  let fanOut: Promise<AcceptFanOut | undefined> | undefined;
  fastify.addHook('onListen', (done) => {
    fanOut = fanOutAccept(fastify.server).catch((e: Error) => {
      // One descriptor still serves; only bursts of new connections wait longer.
      onError(e);
      return undefined;
    });
    done();
  });
  fastify.addHook('preClose', (done) => {
    if (!fanOut) return done();
    void fanOut.then((f) => {
      f?.close();
      done();
    });
  });
}
