import { ServerNats } from '@nestjs/microservices';
import type { NatsOptions } from '@nestjs/microservices';
import type { NatsConnection, Subscription, SubscriptionOptions } from 'nats';
import { MAX_PAYLOAD_BYTES, encodeWire } from '@wharf/contracts';
import {
  REQUEST_ID_HEADER,
  TRACEPARENT_HEADER,
  acceptRequestId,
  contextFor,
  endSpan,
  newRequestId,
  runInContext,
  tracingEnabled,
} from '@wharf/observability';
import type { InFlight } from './inflight';

/**
 * Replies with Buffers as base64 (what the contracts' `bytes` check reads) and never above
 * MAX_PAYLOAD_BYTES: a reply that would not fit becomes `{ ok: false, oversized: true }`, and the
 * caller asks again over the internal HTTP port. (NestJS 11 crashes a handler whose reply exceeds
 * NATS's max payload; this is where that cannot happen.)
 */
export class WireReplySerializer {
  serialize(packet: { response?: unknown; [k: string]: unknown }): { data: Uint8Array; headers?: undefined } {
    let text = encodeWire(packet);
    if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) {
      text = encodeWire({ ...packet, response: { ok: false, oversized: true } });
    }
    return { data: Buffer.from(text) };
  }
}

/**
 * The NATS transport of a service, in its queue group, that drains on shutdown: it unsubscribes
 * (so other replicas get new requests), waits for the requests in flight to be answered, then
 * closes the connection.
 *
 * ServerNats offers no drain: its `gracefulShutdown` unsubscribes (dropping a request the server
 * already routed here) and then waits a fixed `gracePeriod`, not for the handlers; and it keeps its
 * subscriptions private. So this server makes them itself, in bindEvents, where ServerNats would,
 * and keeps them to drain (docs/adr/0017-registry-edge.md).
 */
export class DrainingNatsServer extends ServerNats {
  /** Made by bindEvents, drained by close. */
  private readonly subscribed: Subscription[] = [];
  private readonly queue: string;

  constructor(
    options: NatsOptions['options'] & { queue: string },
    private readonly inflight: InFlight,
    private readonly drainTimeoutMs: number,
  ) {
    super({ ...options, serializer: new WireReplySerializer() });
    this.queue = options.queue;
  }

  /** One subscription per message pattern, in the pattern's queue group or the server's. */
  override bindEvents(client: NatsConnection): void {
    for (const [channel, handler] of this.getHandlers()) {
      const queue = (handler.extras?.queue as string | undefined) ?? this.queue;
      const callback = this.getMessageHandler(channel).bind(this) as SubscriptionOptions['callback'];
      this.subscribed.push(client.subscribe(channel, { queue, callback }));
    }
  }

  /**
   * Each message is handled inside the caller's request context: its request id (from the
   * headers RpcClient sets; a new one for a caller that sent none) and a server span.
   */
  override async handleMessage(...args: Parameters<ServerNats['handleMessage']>): Promise<void> {
    const [channel, msg] = args;
    const h = msg.headers;
    const requestId = acceptRequestId(h?.get(REQUEST_ID_HEADER)) ?? newRequestId();
    // `<prefix>.<service>.<op>`: the span is named `<service>.<op>` (only worked out when tracing).
    const name = tracingEnabled() ? channel.split('.').slice(-2).join('.') : '';
    const ctx = contextFor(requestId, h?.get(TRACEPARENT_HEADER) || undefined, name, 'server', {
      'rpc.system': 'nats',
      'messaging.destination.name': channel,
    });
    try {
      await runInContext(ctx, () => super.handleMessage(...args));
      endSpan(ctx.span);
    } catch (e) {
      endSpan(ctx.span, e);
      throw e;
    }
  }

  override async close(): Promise<void> {
    const subscriptions = this.subscribed.splice(0);
    if (subscriptions.length > 0) {
      // drain(), not unsubscribe(): a request the server already routed here is still handled.
      await Promise.all(subscriptions.map((sub) => sub.drain().catch(() => undefined)));
      await this.inflight.idle(this.drainTimeoutMs);
      // Replies go out on the tick after a handler settles; let them reach the server.
      await new Promise((r) => setTimeout(r, 20));
      await this.unwrap<NatsConnection>()
        .flush()
        .catch(() => undefined);
    }
    await super.close();
  }
}
