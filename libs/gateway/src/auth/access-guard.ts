import { Inject, Injectable } from '@nestjs/common';
import {
  ANONYMOUS,
  AuthRuntime,
  CATALOG_RESOURCE,
  UNRESTRICTED,
  covers,
  isAnonymousBasic,
  parseBearer,
  type Action,
  type Authorizer,
  type Caller,
  type LoginResult,
  type RequestAccess,
} from '@wharf/auth';
import { isValidRepositoryName } from '@wharf/oci';
import type { Exchange } from '../http/exchange';
import type { Route } from '../router';
import { denied, tooManyRequests, unauthorized, type Need } from './challenge';

/**
 * The one place a /v2 request is authenticated and authorised, before it is routed (PROTOCOL.md
 * §7.1's table of required access). It either answers the request itself (401, 403, 429) or hands
 * the dispatcher a {@link RequestAccess} for the handlers that need more than the route's own rights.
 */
@Injectable()
export class AccessGuard {
  constructor(@Inject(AuthRuntime) private readonly rt: AuthRuntime) {}

  /** Undefined when the guard has answered the request. */
  async check(x: Exchange, route: Route): Promise<RequestAccess | undefined> {
    if (!this.rt.enabled) return UNRESTRICTED;
    const header = x.header('authorization');
    const who = await this.authenticate(x, header);
    if (who.kind === 'throttled') return void tooManyRequests(x, who.retryAfter);
    const need = needOf(route, x.method);
    if (who.kind === 'invalid') return void unauthorized(this.rt, x, need, 'invalid_token');
    const { caller, presented } = who;
    const authz = await this.rt.authorizer();
    const token = this.rt.config.mode === 'token';

    if (route.kind === 'base') {
      // Even where anonymous may pull, a client discovers the auth scheme here.
      if (!presented) return void unauthorized(this.rt, x);
    } else if (route.kind === 'catalog') {
      const ok = token
        ? !!caller.token && covers(caller.token.access, CATALOG_RESOURCE.type, CATALOG_RESOURCE.name, '*')
        : caller.subject !== null;
      if (!ok) return void this.refuse(x, presented, CATALOG_NEED);
    } else if (need) {
      const missing = need.actions.some((a) => !authz.allows(caller, need.name, a as Action));
      if (missing) return void this.refuse(x, presented, need);
    }
    return access(authz, caller);
  }

  /**
   * No credentials: a challenge, so the client can log in. Valid credentials without the right:
   * basic mode answers 403 DENIED (logging in again would not help); token mode answers 401
   * insufficient_scope as Distribution does, since a new token with that scope might be granted.
   */
  private refuse(x: Exchange, presented: boolean, need: Need): void {
    if (!presented) return unauthorized(this.rt, x, need);
    if (this.rt.config.mode === 'token') return unauthorized(this.rt, x, need, 'insufficient_scope');
    return denied(x, need);
  }

  private async authenticate(
    x: Exchange,
    header: string | undefined,
  ): Promise<
    | { kind: 'caller'; caller: Caller; presented: boolean }
    | { kind: 'invalid' }
    | { kind: 'throttled'; retryAfter: number }
  > {
    if (header === undefined || isAnonymousBasic(header))
      return { kind: 'caller', caller: ANONYMOUS, presented: false };
    if (this.rt.config.mode === 'token') {
      const token = parseBearer(header);
      // Basic credentials are not how token mode authenticates: answer as if none were sent.
      if (token === undefined && /^basic\s/i.test(header))
        return { kind: 'caller', caller: ANONYMOUS, presented: false };
      const caller = token === undefined ? undefined : await this.rt.bearer(token);
      return caller ? { kind: 'caller', caller, presented: true } : { kind: 'invalid' };
    }
    const result: LoginResult | undefined = await this.rt.loginBasic(x.req, header);
    if (!result) return { kind: 'invalid' };
    if (!result.ok)
      return result.retryAfter ? { kind: 'throttled', retryAfter: result.retryAfter } : { kind: 'invalid' };
    return { kind: 'caller', caller: result.caller, presented: true };
  }
}

const CATALOG_NEED: Need = { ...CATALOG_RESOURCE, actions: ['*'] };

/** The access a route needs (PROTOCOL.md §7.1); `/v2/` needs none, only valid credentials if any. */
function needOf(route: Route, method: string): Need | undefined {
  if (route.kind === 'base') return undefined;
  if (route.kind === 'catalog') return CATALOG_NEED;
  // An invalid name never reaches storage: the handler answers NAME_INVALID, so no right is at stake.
  if (!isValidRepositoryName(route.name)) return undefined;
  let actions: Action[];
  if (method === 'GET' || method === 'HEAD') actions = ['pull'];
  // Cancelling an upload discards only the caller's own unfinished bytes: it needs push, not delete.
  else if (method === 'DELETE' && route.kind !== 'upload') actions = ['delete'];
  else actions = ['pull', 'push'];
  return { type: 'repository', name: route.name, actions };
}

function access(authz: Authorizer, caller: Caller): RequestAccess {
  return {
    unrestricted: false,
    ...(caller.subject !== null ? { actor: caller.subject } : {}),
    canPull: (repository) => authz.allows(caller, repository, 'pull'),
    canList: (repository) => authz.mayList(caller, repository),
  };
}
