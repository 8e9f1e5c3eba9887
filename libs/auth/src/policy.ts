import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { compileGlob } from '@wharf/oci';
import { ACTIONS, isAction, type Action } from './access';

/**
 * The per-repository policy (WHARF_AUTH_POLICY): allow rules only, so what a caller may do is the
 * union of the rules naming them. Example:
 *
 *   groups:
 *     ci: [builder]
 *   rules:
 *     - subjects: [alice, "group:ci"]
 *       repositories: ["team/**"]
 *       actions: [pull, push]
 */

/** Who is asking: a user name with its groups, or nobody (`name: null`, the `anonymous` subject). */
export interface Subject {
  name: string | null;
  groups: readonly string[];
}

export class PolicyError extends Error {
  constructor(file: string, line: number | undefined, problem: string) {
    super(`invalid policy ${file}${line ? ` line ${line}` : ''}: ${problem}`);
    this.name = 'PolicyError';
  }
}

interface Rule {
  users: Set<string>;
  groups: Set<string>;
  anonymous: boolean;
  anyUser: boolean;
  repositories: RegExp[];
  actions: Set<Action>;
}

export class Policy {
  constructor(
    private readonly rules: readonly Rule[],
    private readonly members: ReadonlyMap<string, readonly string[]>,
  ) {}

  get ruleCount(): number {
    return this.rules.length;
  }

  /** Groups the policy file gives a user (htpasswd and self-issued token users). */
  groupsOf(user: string): string[] {
    return [...(this.members.get(user) ?? [])];
  }

  allows(subject: Subject, repository: string, action: Action): boolean {
    return this.rules.some(
      (r) =>
        r.actions.has(action) && this.names(r, subject) && r.repositories.some((re) => re.test(repository)),
    );
  }

  private names(rule: Rule, s: Subject): boolean {
    if (s.name === null) return rule.anonymous;
    return rule.anyUser || rule.users.has(s.name) || s.groups.some((g) => rule.groups.has(g));
  }
}

const GLOB = /^[a-z0-9._\-/*]+$/;
const NAME = /^[^\s:"\\]+$/;

/** Parses and validates a policy file; the error names the line that is wrong. */
export function parsePolicy(text: string, file: string): Policy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const fail = (node: YamlNode | null | undefined, problem: string): never => {
    const offset = node?.range?.[0];
    throw new PolicyError(file, offset === undefined ? undefined : lines.linePos(offset).line, problem);
  };
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new PolicyError(file, e.linePos?.[0].line, e.message.split('\n')[0]);
  }
  const root = doc.contents;
  if (!isMap(root)) return fail(root, 'expected a mapping with `rules:` (and optionally `groups:`)');

  const strings = (node: unknown, what: string): { value: string; node: YamlNode }[] => {
    if (!isSeq(node)) return fail(node as YamlNode, `${what} must be a list`);
    return node.items.map((item) => {
      if (!isScalar(item) || typeof item.value !== 'string' || item.value === '')
        return fail(item as YamlNode, `${what} must hold non-empty strings`);
      return { value: item.value, node: item };
    });
  };

  const members = new Map<string, string[]>();
  let rulesNode: unknown;
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (key === 'rules') rulesNode = pair.value;
    else if (key === 'groups') {
      if (pair.value === null || pair.value === undefined) continue;
      if (!isMap(pair.value))
        return fail(pair.value as YamlNode, 'groups must map a group name to a list of users');
      for (const g of pair.value.items) {
        const group = isScalar(g.key) ? String(g.key.value) : '';
        if (!NAME.test(group)) return fail(g.key as YamlNode, `"${group}" is not a valid group name`);
        for (const { value: user, node } of strings(g.value, `members of group ${group}`)) {
          if (!NAME.test(user)) return fail(node, `"${user}" is not a valid user name`);
          members.set(user, [...(members.get(user) ?? []), group]);
        }
      }
    } else return fail(pair.key as YamlNode, `unknown key "${String(key)}" (expected rules or groups)`);
  }
  if (!isSeq(rulesNode)) return fail((rulesNode ?? root) as YamlNode, '`rules:` must be a list of rules');

  const rules = rulesNode.items.map((item): Rule => {
    if (!isMap(item))
      return fail(item as YamlNode, 'a rule is a mapping of subjects, repositories and actions');
    const rule: Rule = {
      users: new Set(),
      groups: new Set(),
      anonymous: false,
      anyUser: false,
      repositories: [],
      actions: new Set(),
    };
    const seen = new Set<string>();
    for (const pair of item.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      seen.add(key);
      if (key === 'subjects') {
        for (const { value, node } of strings(pair.value, 'subjects')) {
          if (value === 'anonymous') rule.anonymous = true;
          else if (value === '*') rule.anyUser = true;
          else if (value.startsWith('group:')) {
            const group = value.slice('group:'.length);
            if (!NAME.test(group)) return fail(node, `"${value}" is not a valid group subject`);
            rule.groups.add(group);
          } else if (NAME.test(value)) rule.users.add(value);
          else return fail(node, `"${value}" is not a user, group:NAME, anonymous or *`);
        }
      } else if (key === 'repositories') {
        for (const { value, node } of strings(pair.value, 'repositories')) {
          if (!GLOB.test(value))
            return fail(node, `"${value}" is not a repository glob (lower-case names, / , * and **)`);
          rule.repositories.push(compileGlob(value));
        }
      } else if (key === 'actions') {
        for (const { value, node } of strings(pair.value, 'actions')) {
          if (!isAction(value))
            return fail(node, `unknown action "${value}" (expected ${ACTIONS.join(', ')})`);
          rule.actions.add(value);
        }
      } else return fail(pair.key as YamlNode, `unknown key "${key}" in a rule`);
    }
    for (const required of ['subjects', 'repositories', 'actions'])
      if (!seen.has(required)) return fail(item, `a rule needs ${required}`);
    return rule;
  });
  return new Policy(rules, members);
}
