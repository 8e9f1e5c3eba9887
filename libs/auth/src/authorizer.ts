import { isValidRepositoryName } from '@wharf/oci';
import { ACTIONS, CATALOG_RESOURCE, covers, isAction, type AccessEntry, type Action } from './access';
import type { Policy } from './policy';
import type { VerifiedToken } from './tokens';

/** Who made a request, as far as access control is concerned. */
export interface Caller {
  /** User name (htpasswd user or token `sub`); null for anonymous. */
  subject: string | null;
  groups: readonly string[];
  /** The bearer token the request carried: its `access` claim bounds what the request may do. */
  token?: VerifiedToken;
}

export const ANONYMOUS: Caller = { subject: null, groups: [] };

/**
 * Decisions over the current policy. Without a policy file the rule is Distribution's htpasswd
 * rule — any authenticated user may do anything, anonymous nothing — and a token grants exactly
 * its `access` claim.
 */
export class Authorizer {
  constructor(private readonly policy: Policy | undefined) {}

  /** The policy alone, ignoring any token: what the token service may grant. */
  policyAllows(caller: Caller, repository: string, action: Action): boolean {
    if (this.policy)
      return this.policy.allows({ name: caller.subject, groups: caller.groups }, repository, action);
    return caller.token !== undefined || caller.subject !== null;
  }

  /** What a request may do: the policy, intersected with the token's `access` claim when there is one. */
  allows(caller: Caller, repository: string, action: Action): boolean {
    if (caller.token && !covers(caller.token.access, 'repository', repository, action)) return false;
    return this.policyAllows(caller, repository, action);
  }

  /**
   * Whether a catalog listing shows `repository` to this caller. Wharf's own catalog token carries
   * only `registry:catalog:*`, so the policy decides; an external token must also name the repository.
   */
  mayList(caller: Caller, repository: string): boolean {
    if (caller.token?.external && !covers(caller.token.access, 'repository', repository, 'pull'))
      return false;
    return this.policyAllows(caller, repository, 'pull');
  }

  /** The intersection of what a token request asks for and what the policy grants; never an error. */
  grant(caller: Caller, requested: readonly AccessEntry[]): AccessEntry[] {
    const granted = new Map<string, AccessEntry>();
    for (const want of requested) {
      let actions: string[] = [];
      if (want.type === 'repository' && isValidRepositoryName(want.name)) {
        const asked = want.actions.includes('*') ? [...ACTIONS] : want.actions.filter(isAction);
        actions = asked.filter((a) => this.policyAllows(caller, want.name, a));
      } else if (
        want.type === CATALOG_RESOURCE.type &&
        want.name === CATALOG_RESOURCE.name &&
        want.actions.includes('*') &&
        caller.subject !== null
      ) {
        actions = ['*'];
      }
      if (!actions.length) continue;
      const key = `${want.type}:${want.name}`;
      const entry = granted.get(key) ?? { type: want.type, name: want.name, actions: [] };
      entry.actions = [...new Set([...entry.actions, ...actions])];
      granted.set(key, entry);
    }
    return [...granted.values()];
  }
}
