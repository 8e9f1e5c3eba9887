import type { AccessEntry } from './access';

/**
 * Scopes of the token protocol (PROTOCOL.md §7.1): `type:name:action[,action…]`, several separated
 * by spaces. The name may itself contain colons (`localhost:5000/team/app`), so the type ends at
 * the first colon and the actions start after the last one.
 */
const TYPE = /^[a-z0-9]+(?:\([a-z0-9]+\))?$/;
const ACTION = /^(?:[a-z]*|\*)$/;
// Host, port, path components: what a reference name may contain, nothing that could break a header.
const NAME = /^[A-Za-z0-9._\-/:]+$/;

export function parseResourceScope(scope: string): AccessEntry | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const actions = scope.slice(last + 1).split(',');
  if (!TYPE.test(type) || !NAME.test(name) || !actions.every((a) => ACTION.test(a))) return undefined;
  // `repository(plugin)` is the deprecated class form; it names the same resource.
  const bare = type.replace(/\(.*\)$/, '');
  return { type: bare, name, actions: [...new Set(actions.filter((a) => a !== ''))] };
}

/**
 * Every scope of a request: each value may hold several, space separated. Undefined when one is
 * malformed, so that a typo is reported rather than silently granted nothing.
 */
export function parseScopes(values: readonly string[]): AccessEntry[] | undefined {
  const out: AccessEntry[] = [];
  for (const value of values) {
    for (const part of value.split(' ')) {
      if (part === '') continue;
      const entry = parseResourceScope(part);
      if (!entry) return undefined;
      out.push(entry);
    }
  }
  return out;
}

export function formatScope(entries: readonly AccessEntry[]): string {
  return entries.map((e) => `${e.type}:${e.name}:${e.actions.join(',')}`).join(' ');
}
