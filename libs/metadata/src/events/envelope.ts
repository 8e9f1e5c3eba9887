import type { EventAction, EventContext, EventTarget, RegistryEvent } from '@wharf/contracts';
import { randomUUID } from 'node:crypto';

/** Who reports: Distribution's `source` (the registry's host:port and this process's instance id). */
export interface EventSource {
  addr: string;
  instanceID: string;
}

/**
 * One event, its id fixed now: it is stored with the change and sent as is on every retry, so a
 * receiver (or JetStream's Nats-Msg-Id window) can drop duplicates.
 */
export function newEvent(
  action: EventAction,
  target: EventTarget,
  ctx: EventContext | undefined,
  source: EventSource,
): RegistryEvent {
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    action,
    target,
    request: ctx ? { ...ctx.request } : {},
    actor: ctx?.actor ? { name: ctx.actor } : {},
    source: { ...source },
  };
}

export interface Described {
  mediaType: string;
  digest: string;
  size: number;
}

/** Manifest push and pull: the descriptor, its URL by digest, and the tag when addressed by one. */
export function manifestTarget(
  repository: string,
  m: Described,
  tag: string | undefined,
  ctx: EventContext | undefined,
): EventTarget {
  return {
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.size,
    length: m.size,
    repository,
    ...(ctx ? { url: `${ctx.baseUrl}/v2/${repository}/manifests/${m.digest}` } : {}),
    ...(tag !== undefined ? { tag } : {}),
  };
}

/** Blob push, pull and mount: Distribution reports blobs as application/octet-stream. */
export function blobTarget(
  repository: string,
  digest: string,
  size: number,
  ctx: EventContext | undefined,
  fromRepository?: string,
): EventTarget {
  return {
    mediaType: 'application/octet-stream',
    digest,
    size,
    length: size,
    repository,
    ...(fromRepository !== undefined ? { fromRepository } : {}),
    ...(ctx ? { url: `${ctx.baseUrl}/v2/${repository}/blobs/${digest}` } : {}),
  };
}
