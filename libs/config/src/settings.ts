import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors';
import { CONFIG_KEYS, type KeyName, type KeySpec, type ValueOf } from './keys';

export type Source = Record<string, string | undefined>;

/**
 * The configuration's text: WHARF_* environment variables over the YAML file that WHARF_CONFIG
 * names. Keys are read through their declarations (keys/), so each one parses and defaults the same
 * wherever it is read.
 */
export class Settings {
  private readonly src: Source;

  constructor(env: Source) {
    this.src = { ...(env.WHARF_CONFIG ? yamlToEnv(env.WHARF_CONFIG) : {}), ...env };
  }

  /** The key's value as written; an empty value counts as unset. */
  raw(key: KeyName): string | undefined {
    const v = this.src[key];
    return v === undefined || v === '' ? undefined : v;
  }

  has(key: KeyName): boolean {
    return this.raw(key) !== undefined;
  }

  /** The key's value read by its parser, else its default read the same way. */
  get<K extends KeyName>(key: K): ValueOf<K> {
    const spec: KeySpec = CONFIG_KEYS[key];
    const value = this.raw(key) ?? spec.default;
    return (value === undefined ? undefined : spec.parse(key, value)) as ValueOf<K>;
  }

  /** Like `get`, for a key the caller cannot go on without; `why` ends the message. */
  need<K extends KeyName>(key: K, why: string): NonNullable<ValueOf<K>> {
    const value = this.get(key);
    if (value === undefined) throw new ConfigError(key, `is required ${why}`);
    return value as NonNullable<ValueOf<K>>;
  }

  /** Two keys that only mean something together: one without the other names the missing one. */
  together(a: KeyName, b: KeyName): void {
    if (this.has(a) !== this.has(b)) throw new ConfigError(this.has(a) ? b : a, `${a} and ${b} go together`);
  }
}

/** Flattens `{ http: { addr } }` in the YAML file to WHARF_HTTP_ADDR so both sources share one reader. */
function yamlToEnv(file: string): Source {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError('WHARF_CONFIG', `cannot read ${file}: ${(e as Error).message}`);
  }
  const out: Source = {};
  const walk = (value: unknown, prefix: string): void => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value))
        walk(v, `${prefix}_${k.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`);
    } else if (value !== null && value !== undefined) {
      out[prefix] = Array.isArray(value) ? value.join(',') : String(value);
    }
  };
  walk(doc, 'WHARF');
  return out;
}
