import { compileGlob } from '@wharf/oci';
import { PolicyError, parsePolicy, type Subject } from './policy';

const user = (name: string, groups: string[] = []): Subject => ({ name, groups });
const anonymous: Subject = { name: null, groups: [] };

describe('repository globs', () => {
  it('* matches within one path segment only', () => {
    const re = compileGlob('team/*');
    expect(re.test('team/app')).toBe(true);
    expect(re.test('team/app/sub')).toBe(false);
    expect(re.test('team')).toBe(false);
    expect(re.test('other/app')).toBe(false);
  });

  it('** matches across segments', () => {
    const re = compileGlob('team/**');
    expect(re.test('team/app')).toBe(true);
    expect(re.test('team/app/sub/deep')).toBe(true);
    expect(re.test('team')).toBe(false);
    expect(re.test('teams/app')).toBe(false);
  });

  it('* inside a segment and ** in the middle', () => {
    expect(compileGlob('team/app-*').test('team/app-web')).toBe(true);
    expect(compileGlob('team/app-*').test('team/app-web/x')).toBe(false);
    expect(compileGlob('**/cache').test('a/b/cache')).toBe(true);
    expect(compileGlob('a/**/z').test('a/b/c/z')).toBe(true);
    expect(compileGlob('**').test('anything/at/all')).toBe(true);
  });

  it('dots and dashes are literal', () => {
    expect(compileGlob('a.b').test('axb')).toBe(false);
    expect(compileGlob('a.b').test('a.b')).toBe(true);
  });
});

describe('policy', () => {
  const policy = parsePolicy(
    `
groups:
  ci: [builder]
  readers: [rita, builder]
rules:
  - subjects: [alice]
    repositories: ["alice/**", "public/**"]
    actions: [pull, push, delete]
  - subjects: [anonymous]
    repositories: ["public/**"]
    actions: [pull]
  - subjects: ["*"]
    repositories: ["shared/*"]
    actions: [pull]
  - subjects: ["group:ci"]
    repositories: ["ci/**"]
    actions: [pull, push]
  - subjects: ["group:readers"]
    repositories: ["ci/**"]
    actions: [pull]
`,
    'policy.yaml',
  );

  it('grants a named user the listed actions on matching repositories', () => {
    expect(policy.allows(user('alice'), 'alice/app', 'push')).toBe(true);
    expect(policy.allows(user('alice'), 'alice/deep/app', 'delete')).toBe(true);
    expect(policy.allows(user('alice'), 'bob/app', 'pull')).toBe(false);
  });

  it('gives anonymous only the anonymous rules', () => {
    expect(policy.allows(anonymous, 'public/x', 'pull')).toBe(true);
    expect(policy.allows(anonymous, 'public/x', 'push')).toBe(false);
    expect(policy.allows(anonymous, 'shared/x', 'pull')).toBe(false);
  });

  it('* names every authenticated user but not anonymous', () => {
    expect(policy.allows(user('zed'), 'shared/x', 'pull')).toBe(true);
    expect(policy.allows(user('zed'), 'shared/x/y', 'pull')).toBe(false);
    expect(policy.allows(user('zed'), 'public/x', 'pull')).toBe(false);
  });

  it('group:NAME matches members, whether from the groups section or passed in', () => {
    expect(policy.groupsOf('builder').sort()).toEqual(['ci', 'readers']);
    expect(policy.groupsOf('nobody')).toEqual([]);
    expect(policy.allows(user('builder', policy.groupsOf('builder')), 'ci/app', 'push')).toBe(true);
    expect(policy.allows(user('rita', policy.groupsOf('rita')), 'ci/app', 'push')).toBe(false);
    expect(policy.allows(user('rita', policy.groupsOf('rita')), 'ci/app', 'pull')).toBe(true);
    // A token's groups claim: a user the file does not know.
    expect(policy.allows(user('oidc-user', ['ci']), 'ci/app', 'push')).toBe(true);
  });

  it('does not let a user name match a group of the same name', () => {
    expect(policy.allows(user('ci'), 'ci/app', 'pull')).toBe(false);
  });
});

describe('policy validation', () => {
  const lineOf = (text: string): string => {
    try {
      parsePolicy(text, 'p.yaml');
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyError);
      return (e as Error).message;
    }
    throw new Error('expected the policy to be rejected');
  };

  it('names the line of an unknown action', () => {
    expect(
      lineOf(`rules:
  - subjects: [alice]
    repositories: [a]
    actions: [pull, pul]
`),
    ).toMatch(/p\.yaml line 4: unknown action "pul"/);
  });

  it('names the line of a bad glob', () => {
    expect(
      lineOf(`rules:
  - subjects: [alice]
    repositories: ["Team/App"]
    actions: [pull]
`),
    ).toMatch(/line 3: "Team\/App" is not a repository glob/);
  });

  it('names the line of an unknown key', () => {
    expect(
      lineOf(`rules:
  - subjects: [alice]
    repository: [a]
    actions: [pull]
`),
    ).toMatch(/line 3: unknown key "repository"/);
    expect(lineOf(`rule: []\n`)).toMatch(/line 1: unknown key "rule"/);
  });

  it('names the line of a rule missing a field', () => {
    expect(
      lineOf(`rules:
  - subjects: [alice]
    actions: [pull]
`),
    ).toMatch(/line 2: a rule needs repositories/);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(lineOf(`rules: [\n  - a`)).toMatch(/line 2/);
  });

  it('rejects a file without rules and an empty file', () => {
    expect(lineOf(`groups: {}\n`)).toMatch(/rules/);
    expect(lineOf(``)).toMatch(/rules/);
  });

  it('rejects a subject that cannot be a user name', () => {
    expect(
      lineOf(`rules:
  - subjects: ["group:"]
    repositories: [a]
    actions: [pull]
`),
    ).toMatch(/line 2/);
  });

  it('accepts an empty rule list (nobody may do anything)', () => {
    expect(parsePolicy('rules: []\n', 'p.yaml').allows(user('alice'), 'a', 'pull')).toBe(false);
  });
});
