/** What a caller may do to a repository (PROTOCOL.md §7.1). */
export type Action = 'pull' | 'push' | 'delete';
export const ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];

export function isAction(value: string): value is Action {
  return (ACTIONS as readonly string[]).includes(value);
}

/**
 * One entry of a token's `access` claim or of a scope: `{type, name, actions}`. Actions stay
 * strings because a token may carry `*` or actions Wharf does not know; only exact matches count.
 */
export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

/** The catalog is its own resource: a token needs `registry:catalog:*` for it. */
export const CATALOG_RESOURCE = { type: 'registry', name: 'catalog' } as const;

/** True when `entries` grant `action` on the resource; a `*` action grants every action. */
export function covers(entries: readonly AccessEntry[], type: string, name: string, action: string): boolean {
  return entries.some(
    (e) => e.type === type && e.name === name && (e.actions.includes(action) || e.actions.includes('*')),
  );
}

/** The access records of a 401/403 body, in Distribution's spelling. */
export function accessRecords(type: string, name: string, actions: readonly string[]): unknown[] {
  return actions.map((action) => ({ Type: type, Class: '', Name: name, Action: action }));
}
