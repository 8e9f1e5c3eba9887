import { accessRecords, type AuthRuntime } from '@wharf/auth';
import type { Exchange } from '../http/exchange';

/** What a request needs, for the challenge's `scope` and the 401 body's access records. */
export interface Need {
  type: string;
  name: string;
  actions: string[];
}

export type ChallengeError = 'invalid_token' | 'insufficient_scope';

/** A quoted-string parameter may not contain quotes or backslashes; a realm built from Host could. */
function quoted(value: string): string {
  return `"${value.replace(/["\\\x00-\x1f\x7f]/g, '')}"`;
}

/** The realm clients fetch tokens from: configured, or this gateway's own /auth/token as the client reached it. */
export function tokenRealm(rt: AuthRuntime, x: Exchange): string {
  return rt.config.tokenRealm ?? `${x.baseUrl()}/auth/token`;
}

export function basicChallenge(service: string): string {
  return `Basic realm=${quoted(service)}`;
}

/** `WWW-Authenticate` exactly as PROTOCOL.md §7 spells it for the mode. */
export function challengeHeader(rt: AuthRuntime, x: Exchange, need?: Need, error?: ChallengeError): string {
  if (rt.config.mode === 'basic') return basicChallenge(rt.config.service);
  let h = `Bearer realm=${quoted(tokenRealm(rt, x))},service=${quoted(rt.config.service)}`;
  if (need) h += `,scope=${quoted(`${need.type}:${need.name}:${need.actions.join(',')}`)}`;
  if (error) h += `,error=${quoted(error)}`;
  return h;
}

/** A body we will not read must not hold the connection; Node discards the rest. */
function drain(x: Exchange): void {
  if (!x.req.complete) {
    x.req.unpipe();
    x.req.resume();
  }
}

export function unauthorized(rt: AuthRuntime, x: Exchange, need?: Need, error?: ChallengeError): void {
  drain(x);
  const detail = need ? accessRecords(need.type, need.name, need.actions) : undefined;
  x.json(
    401,
    { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', ...(detail ? { detail } : {}) }] },
    { 'WWW-Authenticate': challengeHeader(rt, x, need, error) },
  );
}

export function denied(x: Exchange, need: Need): void {
  drain(x);
  x.json(403, {
    errors: [
      {
        code: 'DENIED',
        message: 'requested access to the resource is denied',
        detail: accessRecords(need.type, need.name, need.actions),
      },
    ],
  });
}

export function tooManyRequests(x: Exchange, retryAfter: number): void {
  drain(x);
  x.json(
    429,
    { errors: [{ code: 'TOOMANYREQUESTS', message: 'too many failed logins, try again later' }] },
    { 'Retry-After': String(retryAfter) },
  );
}
