import { ANONYMOUS, Authorizer, type Caller } from './authorizer';
import { parsePolicy } from './policy';
import type { VerifiedToken } from './tokens';

const policy = parsePolicy(
  `
rules:
  - subjects: [alice]
    repositories: ["alice/**"]
    actions: [pull, push, delete]
  - subjects: [anonymous]
    repositories: ["public/**"]
    actions: [pull]
`,
  'p.yaml',
);
const alice: Caller = { subject: 'alice', groups: [] };
const withToken = (caller: Caller, token: VerifiedToken): Caller => ({ ...caller, token });

describe('authorizer', () => {
  it('with a policy, grants a token request the intersection of scope and policy, partial included', () => {
    const a = new Authorizer(policy);
    expect(
      a.grant(alice, [
        { type: 'repository', name: 'alice/app', actions: ['pull', 'push', 'bogus'] },
        { type: 'repository', name: 'bob/app', actions: ['pull'] },
        { type: 'repository', name: 'public/x', actions: ['push'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
        { type: 'repository', name: 'Not/Valid', actions: ['pull'] },
      ]),
    ).toEqual([
      { type: 'repository', name: 'alice/app', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  it('expands a * action to what the policy allows and merges repeated scopes', () => {
    const a = new Authorizer(policy);
    expect(
      a.grant(alice, [
        { type: 'repository', name: 'alice/app', actions: ['pull'] },
        { type: 'repository', name: 'alice/app', actions: ['*'] },
      ]),
    ).toEqual([{ type: 'repository', name: 'alice/app', actions: ['pull', 'push', 'delete'] }]);
  });

  it('gives anonymous its rules but never the catalog', () => {
    const a = new Authorizer(policy);
    expect(
      a.grant(ANONYMOUS, [
        { type: 'repository', name: 'public/x', actions: ['pull', 'push'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
      ]),
    ).toEqual([{ type: 'repository', name: 'public/x', actions: ['pull'] }]);
  });

  it('without a policy, gives authenticated users everything and anonymous nothing', () => {
    const a = new Authorizer(undefined);
    expect(a.allows(alice, 'any/repo', 'delete')).toBe(true);
    expect(a.allows(ANONYMOUS, 'any/repo', 'pull')).toBe(false);
    expect(a.grant(ANONYMOUS, [{ type: 'repository', name: 'x', actions: ['pull'] }])).toEqual([]);
  });

  it('bounds a token holder by the token: repository A does not open B, pull does not open push', () => {
    const a = new Authorizer(policy);
    const caller = withToken(alice, {
      subject: 'alice',
      external: false,
      groups: [],
      access: [{ type: 'repository', name: 'alice/a', actions: ['pull'] }],
    });
    expect(a.allows(caller, 'alice/a', 'pull')).toBe(true);
    expect(a.allows(caller, 'alice/a', 'push')).toBe(false);
    expect(a.allows(caller, 'alice/b', 'pull')).toBe(false);
  });

  it('intersects an external token with the policy when there is one, and trusts its access claim when not', () => {
    const token = {
      subject: 'bob',
      external: true,
      groups: [],
      access: [{ type: 'repository', name: 'alice/app', actions: ['pull'] }],
    };
    const bob = withToken({ subject: 'bob', groups: [] }, token);
    expect(new Authorizer(policy).allows(bob, 'alice/app', 'pull')).toBe(false);
    expect(new Authorizer(undefined).allows(bob, 'alice/app', 'pull')).toBe(true);
    expect(new Authorizer(undefined).allows(bob, 'alice/other', 'pull')).toBe(false);
  });

  it('lists for the catalog what the policy lets the caller pull; an external token must also name it', () => {
    const a = new Authorizer(policy);
    const own = withToken(alice, { subject: 'alice', external: false, groups: [], access: [] });
    expect(a.mayList(own, 'alice/app')).toBe(true);
    expect(a.mayList(own, 'bob/app')).toBe(false);
    const ext = withToken(alice, { subject: 'alice', external: true, groups: [], access: [] });
    expect(a.mayList(ext, 'alice/app')).toBe(false);
  });
});
