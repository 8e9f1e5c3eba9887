import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';

/**
 * Asymmetric algorithms only. HS* would let anyone who holds the published public key mint tokens
 * (algorithm confusion), and `none` needs no key at all.
 */
export type SigningAlg = 'RS256' | 'ES256' | 'EdDSA';
export const SIGNING_ALGS: SigningAlg[] = ['RS256', 'ES256', 'EdDSA'];

export interface SigningKey {
  alg: SigningAlg;
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** What /auth/jwks.json publishes. */
  publicJwk: JWK;
}

export function algorithmOf(key: KeyObject): SigningAlg {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
      throw new Error('RSA keys must have at least 2048 bits');
    return 'RS256';
  }
  if (type === 'ec') {
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
      throw new Error('EC keys must be on P-256 (ES256)');
    return 'ES256';
  }
  if (type === 'ed25519') return 'EdDSA';
  throw new Error(`unsupported key type ${type ?? 'unknown'} (use RSA, EC P-256 or Ed25519)`);
}

export async function signingKeyFromPem(pem: string | Buffer): Promise<SigningKey> {
  const privateKey = createPrivateKey(pem);
  const alg = algorithmOf(privateKey);
  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(jwk);
  return { alg, kid, privateKey, publicKey, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

/**
 * The token service's key. A configured file must exist (every gateway replica has to sign alike);
 * otherwise the all-in-one creates one the first time and keeps it in its data directory, written
 * with 0600 and renamed into place so a crash never leaves half a key behind.
 */
export async function loadSigningKey(
  file: string,
  generate: boolean,
): Promise<SigningKey & { generated: boolean }> {
  try {
    return { ...(await signingKeyFromPem(await fs.readFile(file))), generated: false };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (!(generate && err.code === 'ENOENT'))
      throw new Error(`cannot load the token signing key ${file}: ${err.message}`);
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' });
  await fs.mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(file), `.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(pem);
    await handle.sync();
  } finally {
    await handle.close();
  }
  let generated = false;
  try {
    // link() fails when another process got there first; then its key is the one to use.
    await fs.link(tmp, file);
    generated = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    await fs.unlink(tmp);
  }
  const dir = await fs.open(dirname(file), 'r');
  await dir.sync().finally(() => dir.close());
  return { ...(await signingKeyFromPem(await fs.readFile(file))), generated };
}
