import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@wharf/config';
import { exportSigningKeyPem, generateSigningKey, libtrustKeyId } from '@wharf/schema1';
import { loadSchema1SigningKey, SCHEMA1_GENERATED_KEY_FILE } from './schema1-key';

describe('loadSchema1SigningKey', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'wharf-s1key-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates a key once, private to the owner, and loads the same key afterwards', () => {
    const keyDir = join(dir, 'keys');
    const first = loadSchema1SigningKey({ keyDir });
    expect(first.generated).toBe(true);
    expect(first.path).toBe(join(keyDir, SCHEMA1_GENERATED_KEY_FILE));
    expect(statSync(first.path).mode & 0o777).toBe(0o600);
    const again = loadSchema1SigningKey({ keyDir });
    expect(again.generated).toBe(false);
    expect(again.key.keyId).toBe(first.key.keyId);
    // Nothing but the key is left behind (no temporary files).
    expect(readdirSync(keyDir)).toEqual([SCHEMA1_GENERATED_KEY_FILE]);
  });

  it('never replaces a key that is already in place', () => {
    const existing = generateSigningKey();
    const keyDir = join(dir, 'keys');
    loadSchema1SigningKey({ keyDir });
    writeFileSync(join(keyDir, SCHEMA1_GENERATED_KEY_FILE), exportSigningKeyPem(existing));
    expect(loadSchema1SigningKey({ keyDir }).key.keyId).toBe(existing.keyId);
  });

  it('refuses to start on a damaged generated key instead of silently making a new one', () => {
    const keyDir = join(dir, 'keys');
    const { path } = loadSchema1SigningKey({ keyDir });
    writeFileSync(path, 'garbage');
    expect(() => loadSchema1SigningKey({ keyDir })).toThrow(/not a usable schema1 signing key/);
    expect(readFileSync(path, 'utf8')).toBe('garbage');
  });

  it('prefers WHARF_SCHEMA1_SIGNING_KEY, as PEM (PKCS#8 too) or JWK', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = join(dir, 'k.pem');
    writeFileSync(pem, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const fromPem = loadSchema1SigningKey({ signingKeyFile: pem, keyDir: join(dir, 'unused') });
    expect(fromPem.key.keyId).toBe(libtrustKeyId(publicKey));
    expect(fromPem.generated).toBe(false);
    const jwk = join(dir, 'k.json');
    writeFileSync(jwk, JSON.stringify(privateKey.export({ format: 'jwk' })));
    expect(loadSchema1SigningKey({ signingKeyFile: jwk }).key.keyId).toBe(libtrustKeyId(publicKey));
    expect(readdirSync(dir).sort()).toEqual(['k.json', 'k.pem']);
  });

  it('names WHARF_SCHEMA1_SIGNING_KEY when the file is missing or not a key', () => {
    expect(() => loadSchema1SigningKey({ signingKeyFile: join(dir, 'missing.pem') })).toThrow(ConfigError);
    writeFileSync(join(dir, 'bad.pem'), 'not a key');
    expect(() => loadSchema1SigningKey({ signingKeyFile: join(dir, 'bad.pem') })).toThrow(
      /WHARF_SCHEMA1_SIGNING_KEY/,
    );
  });

  it('requires a key file where there is no data directory (replicas must share one key)', () => {
    expect(() => loadSchema1SigningKey({})).toThrow(/WHARF_SCHEMA1_SIGNING_KEY/);
  });
});
