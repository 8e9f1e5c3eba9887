import { AUTH_KEYS } from './auth';
import { CLUSTER_KEYS } from './cluster';
import { EVENTS_KEYS } from './events';
import { GENERAL_KEYS } from './general';
import type { Parser } from '../parsers';
import type { KeyTable } from './spec';

export { AUTH_MODES, type AuthMode } from './auth';
export { LOG_LEVELS, type LogLevel } from './general';
export type { KeySpec, KeyTable } from './spec';

/** The README's configuration tables, each with its keys in the order the table lists them. */
export const CONFIG_TABLES = {
  general: GENERAL_KEYS,
  auth: AUTH_KEYS,
  events: EVENTS_KEYS,
  distributed: CLUSTER_KEYS,
} satisfies Record<string, KeyTable>;

/** Every key Wharf reads, each declared once. */
export const CONFIG_KEYS = { ...GENERAL_KEYS, ...AUTH_KEYS, ...EVENTS_KEYS, ...CLUSTER_KEYS };

export type KeyName = keyof typeof CONFIG_KEYS;

/** What reading a key gives: its parser's type, or undefined too when it has no default. */
export type ValueOf<K extends KeyName> = (typeof CONFIG_KEYS)[K] extends {
  parse: Parser<infer T>;
  default: string;
}
  ? T
  : (typeof CONFIG_KEYS)[K] extends { parse: Parser<infer T> }
    ? T | undefined
    : never;
