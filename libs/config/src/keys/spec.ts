import type { Parser } from '../parsers';

/**
 * Everything about one configuration key, in one place: how its value is read, what it is when
 * unset, and what the README's tables say about it (`npm run docs:config` writes them from these).
 */
export interface KeySpec<T = unknown> {
  /** Reads a set value, and the default; a bad one throws a ConfigError naming the key. */
  parse: Parser<T>;
  /**
   * The value when the key is unset, read by `parse` like a set one. Absent when the key is
   * optional, or when its default comes from other keys (the loader supplies it; see `defaultDoc`).
   */
  default?: string;
  /** The Default column when `default` cannot say it: "required", a path under the data directory. */
  defaultDoc?: string;
  /** The Meaning column (Markdown). */
  doc: string;
  /** A credential: set it from a Secret, not a ConfigMap or the YAML file. */
  secret?: boolean;
  /** The services of the distributed shape that read the key, for that shape's table. */
  services?: string;
  /** What the distributed shape's table says instead, for a key listed in another table as well. */
  distributed?: { default?: string; doc?: string };
}

export type KeyTable = Record<string, KeySpec>;
