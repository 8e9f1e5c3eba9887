import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '@wharf/config';
import {
  exportSigningKeyPem,
  generateSigningKey,
  loadSigningKey,
  type Schema1SigningKey,
} from '@wharf/schema1';

const KEY_SETTING = 'WHARF_SCHEMA1_SIGNING_KEY';

/** The generated key's file name inside the key directory. */
export const SCHEMA1_GENERATED_KEY_FILE = 'schema1-signing.pem';

export interface Schema1KeySource {
  /** A PEM or JWK private key file (WHARF_SCHEMA1_SIGNING_KEY). */
  signingKeyFile?: string;
  /**
   * Where a generated key is kept when there is no key file: the all-in-one's `<dataDir>/keys`.
   * Without it a key file is required, since every metadata replica must sign with the same key.
   */
  keyDir?: string;
}

export interface LoadedSchema1Key {
  key: Schema1SigningKey;
  /** The file it came from. */
  path: string;
  /** True when this call created the file. */
  generated: boolean;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The schema1 signing key. Unlike Distribution 2.8, which makes a new key at every start, the key
 * is stable: clients that pin a registry key (and replicas answering the same client) see one kid.
 */
export function loadSchema1SigningKey(source: Schema1KeySource): LoadedSchema1Key {
  if (source.signingKeyFile) {
    const path = source.signingKeyFile;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(KEY_SETTING, `cannot read ${path}: ${messageOf(e)}`);
    }
    try {
      return { key: loadSigningKey(text), path, generated: false };
    } catch (e) {
      throw new ConfigError(KEY_SETTING, `${path} is not a PEM or JWK private key: ${messageOf(e)}`);
    }
  }
  if (!source.keyDir) {
    throw new ConfigError(KEY_SETTING, 'is required where there is no data directory to keep a key in');
  }
  return loadOrCreate(join(source.keyDir, SCHEMA1_GENERATED_KEY_FILE));
}

function readKeyFile(path: string): Schema1SigningKey | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the schema1 signing key ${path}: ${messageOf(e)}`);
  }
  try {
    return loadSigningKey(text);
  } catch (e) {
    // Never replace it: clients may have pinned that key. The operator decides what to do.
    throw new Error(
      `${path} is not a usable schema1 signing key (${messageOf(e)}); remove it to generate a new one or set ${KEY_SETTING}`,
    );
  }
}

function loadOrCreate(path: string): LoadedSchema1Key {
  const existing = readKeyFile(path);
  if (existing) return { key: existing, path, generated: false };

  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Written completely to a private temporary file, then linked into place: link() fails when the
  // name exists, so two processes starting on one data directory never replace each other's key,
  // and a crash leaves either no key or a whole one.
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  let created = false;
  try {
    try {
      writeSync(fd, exportSigningKeyPem(generateSigningKey()));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  } finally {
    unlinkSync(tmp);
  }
  if (created) syncDirectory(dir);
  const key = readKeyFile(path);
  if (!key) throw new Error(`the schema1 signing key ${path} vanished while it was being created`);
  return { key, path, generated: created };
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the file itself is already durable.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
