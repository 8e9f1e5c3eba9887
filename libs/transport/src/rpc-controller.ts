import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Inject, Logger, Post, Req, Res, type Type } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  encodeWire,
  rpcPath,
  subjectOf,
  type OpHandlers,
  type OpTable,
  type ServiceName,
} from '@wharf/contracts';
import { RegistryError, noSuchRoute } from '@wharf/oci';
import { InFlight } from './inflight';
import { hasInternalToken } from './internal-token';
import { readJsonBody, sendJson } from './raw-http';
import { dispatchRpc } from './rpc-dispatch';

/** The service's internal token and in-flight counter, provided by the app that wires a service. */
export const INTERNAL_SERVER = Symbol('INTERNAL_SERVER');
export interface InternalServer {
  token: string;
  inflight: InFlight;
}

/** Manifests are at most 4 MiB; as base64 in JSON, with room to spare. */
const RPC_BODY_LIMIT = 16 << 20;

/**
 * Builds the controller that serves a service's operation table: one `@MessagePattern` per
 * operation on `<prefix>.<service>.<op>` (the app subscribes them in the service's queue group),
 * plus `POST /internal/rpc/<service>/<op>` for requests and replies too large for a NATS message.
 * The class is made at runtime because the subjects depend on WHARF_NATS_PREFIX.
 */
export function createRpcController<T extends OpTable>(
  service: ServiceName,
  prefix: string,
  ops: T,
  handlersToken: symbol,
): Type<unknown> {
  const log = new Logger(`${service}-rpc`);

  @Controller()
  class RpcController {
    constructor(
      @Inject(handlersToken) readonly handlers: OpHandlers<T>,
      @Inject(INTERNAL_SERVER) readonly server: InternalServer,
    ) {}

    @Post(rpcPath(service, ':op').slice(1))
    http(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
      reply.hijack();
      return this.server.inflight.track(() =>
        this.serveHttp(req.raw, reply.raw, (req.params as { op: string }).op),
      );
    }

    async serveHttp(req: IncomingMessage, res: ServerResponse, op: string): Promise<void> {
      if (!hasInternalToken(req, this.server.token)) {
        req.resume();
        return sendJson(res, 401, { ok: false, error: new RegistryError('UNAUTHORIZED').toJSON() });
      }
      // An operation this service does not have is a path outside its routes, as on any port.
      if (!Object.prototype.hasOwnProperty.call(ops, op)) {
        req.resume();
        const err = noSuchRoute(req.method ?? 'POST', rpcPath(service, op));
        return sendJson(res, err.status, { ok: false, error: err.toJSON() });
      }
      let body: unknown;
      try {
        body = await readJsonBody(req, RPC_BODY_LIMIT);
      } catch (e) {
        return sendJson(res, 400, {
          ok: false,
          error: new RegistryError('UNKNOWN', (e as Error).message).toJSON(),
        });
      }
      const result = await dispatchRpc(ops, this.handlers, op, body, log, service);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(encodeWire(result));
    }

    nats(op: string, data: unknown): Promise<unknown> {
      return this.server.inflight.track(() => dispatchRpc(ops, this.handlers, op, data, log, service));
    }
  }

  for (const op of Object.keys(ops)) {
    const method = `nats_${op}`;
    Object.defineProperty(RpcController.prototype, method, {
      value: function (this: RpcController, data: unknown) {
        return this.nats(op, data);
      },
      writable: true,
      configurable: true,
    });
    const descriptor = Object.getOwnPropertyDescriptor(RpcController.prototype, method)!;
    MessagePattern(subjectOf(prefix, service, op))(RpcController.prototype, method, descriptor);
  }
  Object.defineProperty(RpcController, 'name', {
    value: `${service[0].toUpperCase()}${service.slice(1)}RpcController`,
  });
  return RpcController;
}
