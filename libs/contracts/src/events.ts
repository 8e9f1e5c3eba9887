/**
 * Registry events in CNCF Distribution's notification envelope (PROTOCOL.md §8). The gateway knows
 * who asked and how; metadata records the event with the change it describes. Only the request's
 * facts travel with each MetadataApi call (`EventContext`); metadata builds the event itself.
 */
export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v2+json';

export type EventAction = 'push' | 'pull' | 'mount' | 'delete';
export const EVENT_ACTIONS: readonly EventAction[] = ['push', 'pull', 'mount', 'delete'];

/** What the gateway knows about the request that caused a change. */
export interface EventContext {
  /** `scheme://host` the client used: target URLs are built from it. */
  baseUrl: string;
  request: EventRequest;
  /** Authenticated user name; absent when anonymous or access control is off. */
  actor?: string;
}

export interface EventRequest {
  id: string;
  /** Client RemoteAddr (`ip:port`). */
  addr: string;
  host: string;
  method: string;
  useragent: string;
}

export interface EventTarget {
  mediaType?: string;
  digest?: string;
  size?: number;
  /** Deprecated duplicate of size, still sent by Distribution. */
  length?: number;
  repository: string;
  fromRepository?: string;
  url?: string;
  tag?: string;
}

/** One event as a webhook receives it inside `{"events": [...]}`. */
export interface RegistryEvent {
  id: string;
  timestamp: string;
  action: EventAction;
  target: EventTarget;
  request: EventRequest | Record<string, never>;
  actor: { name?: string };
  source: { addr: string; instanceID: string };
}

/** The JetStream subject an event is published on: `<prefix>.events.<action>`. */
export function eventSubject(prefix: string, action: EventAction): string {
  return `${prefix}.events.${action}`;
}
