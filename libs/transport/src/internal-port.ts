import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { BaseRpcExceptionFilter } from '@nestjs/microservices';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { INTERNAL_ERROR, encodeWire, type Reply, type WireError } from '@wharf/contracts';
import { RegistryError, noSuchRoute } from '@wharf/oci';
import { leaveBodiesUnparsed } from './raw-http';

/**
 * The internal ports of the metadata and blob services answer every request with a Reply, the one
 * format their clients read (RemoteBlobApi, RpcClient): a path outside their routes, a method none
 * takes, a URL that does not decode, a request the HTTP parser refuses. The framework's own answers
 * (Nest's `{"statusCode":404,...}`, Fastify's `{"error":"Bad Request",...}`) would reach the
 * client as something it cannot parse.
 *
 * A path outside the routes is 404 UNSUPPORTED, as at the edge. Anything else the framework turns
 * away is a request this registry's own client built wrongly: it carries UNKNOWN, so a registry
 * client behind the gateway sees a 500, not a 4xx that blames it.
 */
const log = new Logger('internal-port');

function failure(error: WireError): string {
  return encodeWire({ ok: false, error } satisfies Reply<never>);
}

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q < 0 ? u : u.slice(0, q);
}

function sendFailure(reply: FastifyReply, status: number, error: WireError): void {
  void reply.code(status).type('application/json').send(failure(error));
}

function refused(what: string): WireError {
  return new RegistryError('UNKNOWN', `internal request refused: ${what}`).toJSON();
}

/** Nest's not-found and error handlers, on an internal port: the answer is a Reply. */
@Catch()
export class WireExceptionFilter implements ExceptionFilter {
  // A hybrid app hands its global filters to the NATS side too, where Nest's own behaviour stays.
  private readonly rpc = new BaseRpcExceptionFilter();

  catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType() !== 'http') return this.rpc.catch(exception, host);
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy();
      return undefined;
    }
    if (request.is404) {
      const err = noSuchRoute(request.raw.method ?? 'GET', pathOf(request.raw.url));
      sendFailure(reply, err.status, err.toJSON());
    } else if (exception instanceof HttpException && exception.getStatus() < 500) {
      log.warn(`${request.raw.method} ${pathOf(request.raw.url)}: ${exception.message}`);
      sendFailure(reply, exception.getStatus(), refused(exception.message));
    } else {
      log.error(
        `${request.raw.method} ${pathOf(request.raw.url)} failed: ${(exception as Error)?.stack ?? String(exception)}`,
      );
      sendFailure(reply, 500, INTERNAL_ERROR);
    }
    return undefined;
  }
}

/** Fastify's `frameworkErrors`: a URL that does not decode names no route. */
export function internalFrameworkErrors(error: Error, request: FastifyRequest, reply: FastifyReply): void {
  const err = noSuchRoute(request.raw.method ?? 'GET', pathOf(request.raw.url));
  log.warn(`${request.raw.method} ${pathOf(request.raw.url).slice(0, 200)}: ${error.message}`);
  sendFailure(reply, err.status, err.toJSON());
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses (headers over its limit, a
 * malformed request line) gets a Reply too, then the connection closes as Node would close it.
 */
export function internalClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status =
    err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = failure(refused(err.code ?? 'malformed HTTP request'));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** Internal data ports: no body limit (chunks are streams), no request timeout (long uploads). */
export const INTERNAL_FASTIFY_OPTIONS = {
  bodyLimit: Number.MAX_SAFE_INTEGER,
  // Route parameters carry digests: a sha512 one is 135 characters, over Fastify's default of 100.
  maxParamLength: 256,
  requestTimeout: 0,
  logger: false,
  frameworkErrors: internalFrameworkErrors,
  clientErrorHandler: internalClientError,
} as const;

/** The `configure` step of a service whose HTTP port is internal: raw bodies, Replies for errors. */
export function configureInternalPort(app: NestFastifyApplication): void {
  leaveBodiesUnparsed(app);
  app.useGlobalFilters(new WireExceptionFilter());
}
