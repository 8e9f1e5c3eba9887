/**
 * NATS subjects: `<prefix>.<service>.<op>`, answered by the queue group named after the service so
 * exactly one replica handles each request. The prefix (WHARF_NATS_PREFIX, default `wharf`) lets
 * several installations, or parallel test runs, share one NATS server without answering each
 * other. Events will live under `<prefix>.events.>`.
 */
export type ServiceName = 'metadata' | 'blob';

export const DEFAULT_SUBJECT_PREFIX = 'wharf';

export const QUEUE_GROUPS: Record<ServiceName, string> = { metadata: 'metadata', blob: 'blob' };

const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function isValidSubjectPrefix(prefix: string): boolean {
  return PREFIX.test(prefix) && prefix.length <= 200;
}

export function subjectOf(prefix: string, service: ServiceName, op: string): string {
  return `${prefix}.${service}.${op}`;
}
