import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ErrorCode as NatsErrorCode, headers as natsHeaders, type MsgHdrs, type NatsConnection } from 'nats';
import {
  MAX_PAYLOAD_BYTES,
  WireFormatError,
  encodeWire,
  fromWireError,
  replyOf,
  rpcPath,
  subjectOf,
  type OpHandlers,
  type OpRequest,
  type OpResponse,
  type OpTable,
  type Reply,
  type ServiceName,
} from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';
import {
  childContext,
  currentContext,
  endSpan,
  propagationHeaders,
  runInContext,
  tracingEnabled,
  type RequestContext,
} from '@wharf/observability';
import { readReply } from './http-reply';
import { unavailable, type Upstreams } from './upstreams';

/**
 * Typed request/reply to one service's queue group. A call goes over NATS with a timeout; when
 * the request would not fit a NATS message, or the service answers that its reply would not, the
 * same call goes over the service's internal HTTP RPC route. The reply is validated here, and a
 * wire error becomes the RegistryError it was, code and status included.
 */
export class RpcClient<T extends OpTable> {
  private readonly log: Logger;

  constructor(
    private readonly nats: NatsConnection,
    private readonly service: ServiceName,
    private readonly prefix: string,
    private readonly ops: T,
    private readonly http: Upstreams,
    private readonly timeoutMs: number,
  ) {
    this.log = new Logger(`${service}-client`);
  }

  /** The table as an API: one method per operation, each a `call`. */
  methods(): OpHandlers<T> {
    const out: Partial<Record<keyof T & string, unknown>> = {};
    for (const name of Object.keys(this.ops) as (keyof T & string)[]) {
      out[name] = (req: OpRequest<T[typeof name]>) => this.call(name, req);
    }
    return out as OpHandlers<T>;
  }

  async call<K extends keyof T & string>(name: K, req: OpRequest<T[K]>): Promise<OpResponse<T[K]>> {
    const ctx = currentContext();
    if (!ctx || !tracingEnabled()) return this.send(name, req, ctx);
    // A client span per call; the HTTP fallback (Upstreams) reads it from the context.
    const child = childContext(ctx, `${this.service}.${name}`, {
      'rpc.system': 'nats',
      'rpc.service': this.service,
      'rpc.method': name,
    });
    try {
      const value = await runInContext(child, () => this.send(name, req, child));
      endSpan(child.span);
      return value;
    } catch (e) {
      // A 404 from a HEAD is an answer, not a failure of the call.
      endSpan(child.span, e instanceof RegistryError && e.status < 500 ? undefined : e);
      throw e;
    }
  }

  private async send<K extends keyof T & string>(
    name: K,
    req: OpRequest<T[K]>,
    ctx: RequestContext | undefined,
  ): Promise<OpResponse<T[K]>> {
    const subject = subjectOf(this.prefix, this.service, name);
    // Nest's NATS transport reads { pattern, data, id }; an id makes it a request, not an event.
    const data = this.ops[name].writeRequest(req);
    const packet = encodeWire({ pattern: subject, data, id: randomUUID() });
    if (Buffer.byteLength(packet) <= MAX_PAYLOAD_BYTES) {
      const reply = await this.overNats(name, subject, packet, ctx);
      if (reply.ok || !('oversized' in reply)) return this.unwrap(reply);
    }
    return this.unwrap(await this.overHttp(name, data));
  }

  private async overNats<K extends keyof T & string>(
    name: K,
    subject: string,
    packet: string,
    ctx: RequestContext | undefined,
  ): Promise<Reply<OpResponse<T[K]>>> {
    let raw: unknown;
    try {
      const msg = await this.nats.request(subject, Buffer.from(packet), {
        timeout: this.timeoutMs,
        headers: ctx ? headersOf(ctx) : undefined,
      });
      raw = JSON.parse(Buffer.from(msg.data).toString('utf8'));
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === NatsErrorCode.NoResponders || code === NatsErrorCode.Timeout) {
        throw new RegistryError('UNAVAILABLE', `${this.service} service unavailable`);
      }
      throw unavailable(this.service, e);
    }
    const nest = raw as { response?: unknown; err?: unknown } | null;
    if (!nest || nest.err !== undefined) {
      this.log.error(`${name}: the ${this.service} service failed: ${JSON.stringify(nest?.err)}`);
      throw new RegistryError('UNKNOWN');
    }
    return this.check(name, nest.response);
  }

  private async overHttp<K extends keyof T & string>(
    name: K,
    data: unknown,
  ): Promise<Reply<OpResponse<T[K]>>> {
    const res = await this.http.request({
      method: 'POST',
      path: rpcPath(this.service, name),
      headers: { 'content-type': 'application/json' },
      body: encodeWire(data),
    });
    return readReply(
      res,
      this.ops[name].response as (v: unknown, p?: string) => OpResponse<T[K]>,
      this.service,
      name,
    );
  }

  private check<K extends keyof T & string>(name: K, raw: unknown): Reply<OpResponse<T[K]>> {
    try {
      return replyOf(this.ops[name].response as (v: unknown, p?: string) => OpResponse<T[K]>)(raw, 'reply');
    } catch (e) {
      if (e instanceof WireFormatError) {
        this.log.error(`${name}: malformed reply from the ${this.service} service: ${e.message}`);
        throw new RegistryError('UNKNOWN');
      }
      throw e;
    }
  }

  private unwrap<R>(reply: Reply<R>): R {
    if (reply.ok) return reply.value;
    if ('oversized' in reply) throw new Error(`${this.service} reply too large even over HTTP`);
    throw fromWireError(reply.error);
  }
}

/** The request id and trace context as NATS message headers (what DrainingNatsServer reads). */
function headersOf(ctx: RequestContext): MsgHdrs {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(propagationHeaders(ctx))) h.set(k, v);
  return h;
}
