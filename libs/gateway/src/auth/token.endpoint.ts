import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ANONYMOUS,
  AuthRuntime,
  formatScope,
  isAnonymousBasic,
  parseScopes,
  type AccessEntry,
  type Caller,
  type LoginResult,
} from '@wharf/auth';
import { Exchange } from '../http/exchange';
import { basicChallenge, tooManyRequests } from './challenge';

const MAX_FORM_BYTES = 64 * 1024;
/** Tokens are credentials: no cache on the way may keep them. */
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

class TokenRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Docker's token service (PROTOCOL.md §7.2) at /auth/token: the GET form with Basic credentials and
 * the OAuth2 POST form. The token grants the intersection of the requested scopes and the policy;
 * a partial or empty grant is not an error. Its public key is published at /auth/jwks.json.
 */
@Injectable()
export class TokenEndpoint {
  private readonly log = new Logger('TokenService');

  constructor(@Inject(AuthRuntime) private readonly rt: AuthRuntime) {}

  async get(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const x = new Exchange(req, res);
    await this.answer(x, async () => {
      this.checkService(x.query.get('service'));
      const scopes = this.scopes(x.query.getAll('scope'));
      const caller = await this.basicCaller(x);
      if (!caller) return;
      const offline = x.query.get('offline_token') === 'true';
      const issued = await this.issue(caller, scopes, offline);
      x.json(
        200,
        {
          token: issued.token,
          access_token: issued.token,
          expires_in: issued.expiresIn,
          issued_at: issued.issuedAt,
          ...(issued.refresh ? { refresh_token: issued.refresh } : {}),
        },
        NO_STORE,
      );
    });
  }

  async post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const x = new Exchange(req, res);
    await this.answer(x, async () => {
      const type = (x.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/x-www-form-urlencoded')
        throw new TokenRequestError(
          400,
          'invalid_request',
          'expected an application/x-www-form-urlencoded form',
        );
      const form = new URLSearchParams(await readForm(x));
      this.checkService(form.get('service'));
      const scopes = this.scopes([form.get('scope') ?? '']);
      let caller: Caller;
      let refresh: string | undefined;
      let offline = form.get('access_type') === 'offline';
      switch (form.get('grant_type')) {
        case 'password': {
          const user = form.get('username');
          const password = form.get('password');
          if (!user || password === null)
            throw new TokenRequestError(400, 'invalid_request', 'username and password are required');
          const result = await this.rt.login(this.rt.clientAddress(x.req), user, password);
          if (!this.loggedIn(x, result)) return;
          caller = result.caller;
          break;
        }
        case 'refresh_token': {
          refresh = form.get('refresh_token') ?? '';
          const claims = await this.rt.issuer!.verifyRefresh(refresh);
          // A password change or removal from htpasswd revokes every refresh token of that user.
          if (!claims || (await this.rt.currentPassword(claims.subject)) !== claims.passwordFingerprint)
            throw new TokenRequestError(401, 'invalid_grant', 'refresh token is invalid or revoked');
          caller = { subject: claims.subject, groups: await this.rt.groupsOf(claims.subject) };
          offline = false;
          break;
        }
        default:
          throw new TokenRequestError(
            400,
            'unsupported_grant_type',
            'grant_type must be password or refresh_token',
          );
      }
      const issued = await this.issue(caller, scopes, offline);
      x.json(
        200,
        {
          access_token: issued.token,
          scope: formatScope(issued.access),
          expires_in: issued.expiresIn,
          issued_at: issued.issuedAt,
          ...((issued.refresh ?? refresh) ? { refresh_token: issued.refresh ?? refresh } : {}),
        },
        NO_STORE,
      );
    });
  }

  jwks(req: IncomingMessage, res: ServerResponse): void {
    const x = new Exchange(req, res);
    const key = this.rt.signingKey;
    if (!key) return this.notEnabled(x);
    x.json(200, { keys: [key.publicJwk] }, { 'Cache-Control': 'public, max-age=300' });
  }

  private async answer(x: Exchange, work: () => Promise<void>): Promise<void> {
    if (!this.rt.issuer) return this.notEnabled(x);
    try {
      await work();
    } catch (e) {
      if (!x.req.complete) x.req.resume();
      if (x.res.headersSent) return void x.res.destroy();
      if (e instanceof TokenRequestError)
        return x.json(e.status, { errors: [{ code: e.code.toUpperCase(), message: e.message }] }, NO_STORE);
      this.log.error(`token request failed: ${(e as Error)?.message ?? String(e)}`);
      x.json(500, { errors: [{ code: 'UNKNOWN', message: 'unknown error' }] });
    }
  }

  private notEnabled(x: Exchange): void {
    x.json(404, {
      errors: [{ code: 'UNSUPPORTED', message: 'the token service runs only with WHARF_AUTH_MODE=token' }],
    });
  }

  private checkService(service: string | null): void {
    if (service !== null && service !== '' && service !== this.rt.config.service)
      throw new TokenRequestError(
        400,
        'invalid_request',
        `unknown service; this is "${this.rt.config.service}"`,
      );
  }

  private scopes(values: string[]): AccessEntry[] {
    const scopes = parseScopes(values);
    if (!scopes) throw new TokenRequestError(400, 'invalid_scope', 'malformed scope');
    return scopes;
  }

  /** No Authorization: an anonymous token (what the policy gives `anonymous`). Undefined when answered. */
  private async basicCaller(x: Exchange): Promise<Caller | undefined> {
    const header = x.header('authorization');
    if (header === undefined || isAnonymousBasic(header)) return ANONYMOUS;
    const result: LoginResult = (await this.rt.loginBasic(x.req, header)) ?? { ok: false, retryAfter: 0 };
    return this.loggedIn(x, result) ? result.caller : undefined;
  }

  private loggedIn(x: Exchange, result: LoginResult): result is Extract<LoginResult, { ok: true }> {
    if (result.ok) return true;
    if (result.retryAfter) tooManyRequests(x, result.retryAfter);
    else
      x.json(
        401,
        { errors: [{ code: 'UNAUTHORIZED', message: 'invalid credentials' }] },
        // The token endpoint itself takes Basic credentials, whatever the registry's mode.
        { 'WWW-Authenticate': basicChallenge(this.rt.config.service), ...NO_STORE },
      );
    return false;
  }

  private async issue(caller: Caller, scopes: AccessEntry[], offline: boolean) {
    const authz = await this.rt.authorizer();
    const access = authz.grant(caller, scopes);
    const issued = await this.rt.issuer!.accessToken(caller.subject, access);
    let refresh: string | undefined;
    if (offline && caller.subject !== null) {
      const fingerprint = await this.rt.currentPassword(caller.subject);
      if (fingerprint) refresh = await this.rt.issuer!.refreshToken(caller.subject, fingerprint);
    }
    return { ...issued, access, refresh };
  }
}

async function readForm(x: Exchange): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of x.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new TokenRequestError(413, 'invalid_request', 'form too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
