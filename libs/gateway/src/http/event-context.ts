import { randomUUID } from 'node:crypto';
import type { EventContext } from '@wharf/contracts';
import type { Exchange } from './exchange';

/**
 * The request's facts for Distribution's event envelope (`request`, `actor`, target URLs). A
 * client's X-Request-Id is kept so a receiver can match the event to its own logs.
 */
export function eventContext(x: Exchange): EventContext {
  const socket = x.req.socket;
  const given = x.header('x-request-id');
  return {
    baseUrl: x.baseUrl(),
    request: {
      id: given && given.length <= 200 ? given : randomUUID(),
      addr: socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort ?? 0}` : '',
      host: x.header('host') ?? '',
      method: x.method,
      useragent: x.header('user-agent') ?? '',
    },
    ...(x.actor ? { actor: x.actor } : {}),
  };
}
