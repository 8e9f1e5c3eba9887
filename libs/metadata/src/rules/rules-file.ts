import {
  LineCounter,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  type Node as YamlNode,
  type YAMLMap,
} from 'yaml';
import { compileGlob, parseDuration } from '@wharf/oci';

/**
 * The repository rules (WHARF_RULES): immutable tags, namespace quotas and retention. Example:
 *
 *   immutable:
 *     - repositories: ['release/**']
 *       tags: ['v*']
 *   quotas:
 *     - namespaces: ['team']
 *       limit: 50GiB
 *   retention:
 *     - repositories: ['ci/**']
 *       keepLatest: 10
 *       keepTags: ['main', 'v*']
 *       keepNewerThan: 720h
 */

export class RulesError extends Error {
  constructor(file: string, line: number | undefined, problem: string) {
    super(`invalid rules ${file}${line ? ` line ${line}` : ''}: ${problem}`);
    this.name = 'RulesError';
  }
}

/** Where a rule is written, to name it in refusals and logs: `<file> line N`. */
export interface RuleSource {
  file: string;
  line: number;
}

export interface ImmutableRule extends RuleSource {
  repositories: RegExp[];
  tags: RegExp[];
}

export interface QuotaRule extends RuleSource {
  /** Globs over the first segment of repository names; `literal` holds those without `*`. */
  namespaces: RegExp[];
  literal: Set<string>;
  limit: number;
}

export interface RetentionRule extends RuleSource {
  repositories: RegExp[];
  keepLatest?: number;
  keepTags: RegExp[];
  keepNewerThanMs?: number;
  keepPulledWithinMs?: number;
}

export class Rules {
  constructor(
    readonly immutable: readonly ImmutableRule[] = [],
    readonly quotas: readonly QuotaRule[] = [],
    readonly retention: readonly RetentionRule[] = [],
  ) {}

  get empty(): boolean {
    return !this.immutable.length && !this.quotas.length && !this.retention.length;
  }

  /** The first immutable rule holding `tag` of `repository`, if any. */
  immutableRule(repository: string, tag: string): ImmutableRule | undefined {
    return this.immutable.find(
      (r) => r.repositories.some((re) => re.test(repository)) && r.tags.some((re) => re.test(tag)),
    );
  }

  /**
   * The quota of a namespace: the first rule naming it. A pull-through cache's namespace counts
   * only where a rule names it literally (`proxied`), not through a glob meant for teams.
   */
  quotaOf(namespace: string, proxied = false): QuotaRule | undefined {
    return this.quotas.find((r) =>
      proxied ? r.literal.has(namespace) : r.namespaces.some((re) => re.test(namespace)),
    );
  }

  /** The retention rules for a repository, in file order (a tag any of them keeps stays). */
  retentionFor(repository: string): RetentionRule[] {
    return this.retention.filter((r) => r.repositories.some((re) => re.test(repository)));
  }
}

export const NO_RULES = new Rules();

/** A repository name's namespace, what quotas count by: its first segment. */
export function namespaceOf(repository: string): string {
  const slash = repository.indexOf('/');
  return slash < 0 ? repository : repository.slice(0, slash);
}

const REPOSITORY_GLOB = /^[a-z0-9._\-/*]+$/;
const NAMESPACE_GLOB = /^[a-z0-9._\-*]+$/;
const TAG_GLOB = /^[A-Za-z0-9_.\-*]+$/;
const SIZE = /^(\d+)\s*(B|KiB|MiB|GiB|TiB)$/;
const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

/** `<n>B|KiB|MiB|GiB|TiB` (binary units) in bytes. */
export function parseSize(value: string): number {
  const m = SIZE.exec(value.trim());
  const bytes = m ? Number(m[1]) * UNITS[m[2]] : NaN;
  if (!Number.isSafeInteger(bytes)) throw new Error(`"${value}" is not a size (<n>B, KiB, MiB, GiB or TiB)`);
  return bytes;
}

/** Parses and validates a rules file; the error names the line that is wrong. */
export function parseRules(text: string, file: string): Rules {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const lineOf = (node: unknown): number | undefined => {
    const offset = (node as YamlNode | null | undefined)?.range?.[0];
    return offset === undefined ? undefined : lines.linePos(offset).line;
  };
  const fail = (node: unknown, problem: string): never => {
    throw new RulesError(file, lineOf(node), problem);
  };
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new RulesError(file, e.linePos?.[0].line, e.message.split('\n')[0]);
  }
  const root = doc.contents;
  // An empty file is no rules at all.
  if (root === null || (isScalar(root) && root.value === null)) return NO_RULES;
  if (!isMap(root)) return fail(root, 'expected a mapping with immutable:, quotas: and/or retention:');

  const globs = (node: unknown, what: string, shape: RegExp): RegExp[] => {
    if (!isSeq(node) || !node.items.length) return fail(node, `${what} must be a non-empty list`);
    return node.items.map((item) => {
      if (!isScalar(item) || typeof item.value !== 'string' || !shape.test(item.value))
        return fail(item, `${what} must hold globs (${describe(shape)})`);
      return compileGlob(item.value);
    });
  };
  const scalar = (node: unknown, what: string): string => {
    if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number'))
      return fail(node, `${what} must be a value`);
    return String(node.value);
  };
  const duration = (node: unknown, what: string): number => {
    try {
      return parseDuration(scalar(node, what));
    } catch (e) {
      return fail(node, `${what}: ${(e as Error).message}`);
    }
  };
  const items = (node: unknown, what: string): YAMLMap[] => {
    if (!isSeq(node)) return fail(node, `${what} must be a list of rules`);
    return node.items.map((item) => (isMap(item) ? item : fail(item, `a ${what} rule is a mapping`)));
  };
  const entries = (map: YAMLMap, allowed: string[], required: string[]) => {
    const out = new Map<string, unknown>();
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!allowed.includes(key)) fail(pair.key, `unknown key "${key}" (expected ${allowed.join(', ')})`);
      out.set(key, pair.value);
    }
    for (const r of required) if (!out.has(r)) fail(map, `a rule needs ${r}`);
    return out;
  };

  let immutable: ImmutableRule[] = [];
  let quotas: QuotaRule[] = [];
  let retention: RetentionRule[] = [];
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key === 'immutable') {
      immutable = items(pair.value, 'immutable').map((map) => {
        const e = entries(map, ['repositories', 'tags'], ['repositories', 'tags']);
        return {
          file,
          line: lineOf(map) ?? 0,
          repositories: globs(e.get('repositories'), 'repositories', REPOSITORY_GLOB),
          tags: globs(e.get('tags'), 'tags', TAG_GLOB),
        };
      });
    } else if (key === 'quotas') {
      quotas = items(pair.value, 'quota').map((map) => {
        const e = entries(map, ['namespaces', 'limit'], ['namespaces', 'limit']);
        const limitNode = e.get('limit');
        let limit: number;
        try {
          limit = parseSize(scalar(limitNode, 'limit'));
        } catch (err) {
          return fail(limitNode, `limit: ${(err as Error).message}`);
        }
        const names = e.get('namespaces');
        const literal = new Set(
          isSeq(names)
            ? names.items.flatMap((i) =>
                isScalar(i) && typeof i.value === 'string' && !i.value.includes('*') ? [i.value] : [],
              )
            : [],
        );
        return {
          file,
          line: lineOf(map) ?? 0,
          namespaces: globs(names, 'namespaces', NAMESPACE_GLOB),
          literal,
          limit,
        };
      });
    } else if (key === 'retention') {
      retention = items(pair.value, 'retention').map((map) => {
        const keys = ['repositories', 'keepLatest', 'keepTags', 'keepNewerThan', 'keepPulledWithin'];
        const e = entries(map, keys, ['repositories']);
        if (keys.slice(1).every((k) => !e.has(k)))
          fail(map, 'a retention rule needs keepLatest, keepTags, keepNewerThan or keepPulledWithin');
        const latestNode = e.get('keepLatest');
        let keepLatest: number | undefined;
        if (latestNode !== undefined) {
          keepLatest = Number(scalar(latestNode, 'keepLatest'));
          if (!Number.isSafeInteger(keepLatest) || keepLatest < 0)
            fail(latestNode, 'keepLatest must be a whole number ≥ 0');
        }
        return {
          file,
          line: lineOf(map) ?? 0,
          repositories: globs(e.get('repositories'), 'repositories', REPOSITORY_GLOB),
          keepLatest,
          keepTags: e.has('keepTags') ? globs(e.get('keepTags'), 'keepTags', TAG_GLOB) : [],
          keepNewerThanMs: e.has('keepNewerThan')
            ? duration(e.get('keepNewerThan'), 'keepNewerThan')
            : undefined,
          keepPulledWithinMs: e.has('keepPulledWithin')
            ? duration(e.get('keepPulledWithin'), 'keepPulledWithin')
            : undefined,
        };
      });
    } else fail(pair.key, `unknown key "${key}" (expected immutable, quotas or retention)`);
  }
  return new Rules(immutable, quotas, retention);
}

function describe(shape: RegExp): string {
  if (shape === TAG_GLOB) return 'tag characters and *';
  if (shape === NAMESPACE_GLOB) return 'one lower-case name segment and *';
  return 'lower-case names, /, * and **';
}
