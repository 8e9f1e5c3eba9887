/**
 * libtrust-compatible keys (the vendored `github.com/docker/libtrust` of Distribution 2.8.2):
 * key ids, public JWKs and loading of the formats `compatibility.schema1.signingkeyfile` accepts.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { compareUtf8, goJsonMarshalAny } from './go-json';
import { goJsonToAny, GoJsonSyntaxError, parseGoJson, type GoAny } from './go-json-parse';

export type Schema1Algorithm = 'ES256' | 'ES384' | 'ES512' | 'RS256';

export interface Schema1SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** libtrust key id, e.g. `ABCD:EFGH:…` (12 groups). */
  readonly keyId: string;
  /** The JWS `alg` libtrust uses with this key (EC: by curve; RSA: RS256 for SHA-256). */
  readonly algorithm: Schema1Algorithm;
  /**
   * Extra JWK members libtrust carries into the signature's `jwk`: headers of a PEM key file
   * (`hosts` split on commas) or unknown members of a JWK key file. Empty for generated keys.
   */
  readonly extended: Readonly<Record<string, GoAny>>;
}

interface CurveInfo {
  crv: 'P-256' | 'P-384' | 'P-521';
  alg: 'ES256' | 'ES384' | 'ES512';
  hash: 'sha256' | 'sha384' | 'sha512';
  /** Coordinate and signature-half length in bytes. */
  size: number;
}

const CURVES: Readonly<Record<string, CurveInfo>> = {
  prime256v1: { crv: 'P-256', alg: 'ES256', hash: 'sha256', size: 32 },
  secp384r1: { crv: 'P-384', alg: 'ES384', hash: 'sha384', size: 48 },
  secp521r1: { crv: 'P-521', alg: 'ES512', hash: 'sha512', size: 66 },
};

export function curveOf(key: KeyObject): CurveInfo | undefined {
  const name = key.asymmetricKeyDetails?.namedCurve;
  return key.asymmetricKeyType === 'ec' && name ? CURVES[name] : undefined;
}

export function curveByJwkName(crv: string): CurveInfo | undefined {
  return Object.values(CURVES).find((c) => c.crv === crv);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32NoPad(data: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * libtrust `KeyID()`: SHA-256 of the PKIX (SubjectPublicKeyInfo) DER of the public key, first 30
 * bytes, base32 without padding (48 characters), `:` after every 4 characters.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const encoded = base32NoPad(createHash('sha256').update(der).digest().subarray(0, 30));
  return encoded.match(/.{1,4}/g)!.join(':');
}

export function base64UrlNoPad(data: Uint8Array): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * libtrust `joseBase64UrlDecode`: adds the padding the length calls for (a length of 1 mod 4 is an
 * error), then decodes strictly (Go's decoder only skips CR and LF).
 */
export function joseBase64UrlDecode(s: string): Buffer | null {
  let padded = s;
  switch (s.length % 4) {
    case 0:
      break;
    case 2:
      padded += '==';
      break;
    case 3:
      padded += '=';
      break;
    default:
      return null;
  }
  padded = padded.replace(/[\r\n]/g, '');
  if (padded.length % 4 !== 0 || !/^[A-Za-z0-9_-]*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/.test(padded)) {
    return null;
  }
  return Buffer.from(padded, 'base64url');
}

function leftPad(b: Buffer, size: number): Buffer {
  return b.length >= size ? b : Buffer.concat([Buffer.alloc(size - b.length), b]);
}

function stripLeadingZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/**
 * The public JWK libtrust writes into a signature header: extended members first, then `kty`,
 * `kid` and the key parameters (EC: `crv`, `x`, `y` zero-padded to the curve size; RSA: `n`, `e`
 * without leading zeros). Go marshals the map with sorted keys; use `publicJwkJson` for the bytes.
 */
export function publicJwk(key: Schema1SigningKey | KeyObject): Record<string, GoAny> {
  const publicKey = 'publicKey' in key ? key.publicKey : key;
  const extended = 'publicKey' in key ? key.extended : {};
  const jwk: Record<string, GoAny> = { ...extended };
  const exported = publicKey.export({ format: 'jwk' }) as JsonWebKey;
  const curve = curveOf(publicKey);
  if (curve) {
    jwk.kty = 'EC';
    jwk.kid = libtrustKeyId(publicKey);
    jwk.crv = curve.crv;
    jwk.x = base64UrlNoPad(leftPad(Buffer.from(exported.x!, 'base64url'), curve.size));
    jwk.y = base64UrlNoPad(leftPad(Buffer.from(exported.y!, 'base64url'), curve.size));
  } else if (publicKey.asymmetricKeyType === 'rsa') {
    jwk.kty = 'RSA';
    jwk.kid = libtrustKeyId(publicKey);
    jwk.n = base64UrlNoPad(stripLeadingZeros(Buffer.from(exported.n!, 'base64url')));
    jwk.e = base64UrlNoPad(stripLeadingZeros(Buffer.from(exported.e!, 'base64url')));
  } else {
    throw new Error(`unsupported key type ${publicKey.asymmetricKeyType}`);
  }
  const sorted: Record<string, GoAny> = {};
  for (const name of Object.keys(jwk).sort(compareUtf8)) sorted[name] = jwk[name];
  return sorted;
}

/** The compact JSON of `publicJwk`, as Go marshals it (sorted keys, Go escaping). */
export function publicJwkJson(key: Schema1SigningKey | KeyObject): string {
  let json = jwkJsonCache.get(key);
  if (json === undefined) {
    json = goJsonMarshalAny(publicJwk(key));
    jwkJsonCache.set(key, json);
  }
  return json;
}

// Keys are immutable, and the JWK costs more than the signature itself, so it is computed once.
const jwkJsonCache = new WeakMap<object, string>();

function fromPrivateKey(privateKey: KeyObject, extended: Record<string, GoAny>): Schema1SigningKey {
  const publicKey = createPublicKey(privateKey);
  const curve = curveOf(privateKey);
  let algorithm: Schema1Algorithm;
  if (curve) algorithm = curve.alg;
  else if (privateKey.asymmetricKeyType === 'rsa') algorithm = 'RS256';
  else throw new Error(`unsupported schema1 signing key type ${privateKey.asymmetricKeyType}`);
  return Object.freeze({
    privateKey,
    publicKey,
    keyId: libtrustKeyId(publicKey),
    algorithm,
    extended: Object.freeze({ ...extended }),
  });
}

/** A new ECDSA P-256 key, what Distribution generates at start when no key file is configured. */
export function generateSigningKey(): Schema1SigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return fromPrivateKey(privateKey, {});
}

interface PemBlock {
  type: string;
  headers: Record<string, string>;
  der: Buffer;
}

/** Go `pem.Decode` of the first block, headers included (Node cannot read PEM headers). */
function decodePem(text: string): PemBlock | null {
  const begin = /-----BEGIN ([^\r\n]*?)-----\r?\n/.exec(text);
  if (!begin) return null;
  const type = begin[1];
  const rest = text.slice(begin.index + begin[0].length);
  const endMarker = `-----END ${type}-----`;
  const endIndex = rest.indexOf(endMarker);
  if (endIndex < 0) return null;
  const lines = rest.slice(0, endIndex).split(/\r?\n/);
  const headers: Record<string, string> = {};
  let i = 0;
  for (; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon < 0) break;
    headers[lines[i].slice(0, colon).trim()] = lines[i].slice(colon + 1).trim();
  }
  const body = lines.slice(i).join('').replace(/[ \t]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) return null;
  return { type, headers, der: Buffer.from(body, 'base64') };
}

function takeString(jwk: Record<string, GoAny>, name: string): string {
  const value = jwk[name];
  if (value === undefined) throw new Error(`JWK: "${name}" value not specified`);
  if (typeof value !== 'string') throw new Error(`JWK: "${name}" value must be a string`);
  delete jwk[name];
  return value;
}

function takeB64(jwk: Record<string, GoAny>, name: string, size?: number): Buffer {
  const bytes = joseBase64UrlDecode(takeString(jwk, name));
  if (!bytes) throw new Error(`JWK: invalid base64 URL encoding of "${name}"`);
  if (size !== undefined && bytes.length !== size) {
    throw new Error(`JWK: invalid number of octets in "${name}": got ${bytes.length}, should be ${size}`);
  }
  return bytes;
}

function privateKeyFromJwk(text: string): Schema1SigningKey {
  const buf = Buffer.from(text, 'utf8');
  let root;
  try {
    root = parseGoJson(buf);
  } catch (e) {
    if (e instanceof GoJsonSyntaxError) throw new Error(`decoding JWK Private Key JSON data: ${e.message}`);
    throw e;
  }
  const value = goJsonToAny(buf, root);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('decoding JWK Private Key JSON data: not an object');
  }
  const jwk: Record<string, GoAny> = { ...value };
  const kty = takeString(jwk, 'kty');
  let privateKey: KeyObject;
  if (kty === 'EC') {
    const d = takeString(jwk, 'd');
    const crvName = takeString(jwk, 'crv');
    const curve = curveByJwkName(crvName);
    if (!curve) throw new Error(`JWK EC Public Key curve identifier not supported: "${crvName}"`);
    const x = takeB64(jwk, 'x', curve.size);
    const y = takeB64(jwk, 'y', curve.size);
    const kid = jwk.kid === undefined ? undefined : takeString(jwk, 'kid');
    const dBytes = joseBase64UrlDecode(d);
    if (!dBytes || dBytes.length !== curve.size) throw new Error('JWK EC Private Key: invalid "d"');
    privateKey = createPrivateKey({
      key: {
        kty: 'EC',
        crv: curve.crv,
        x: base64UrlNoPad(x),
        y: base64UrlNoPad(y),
        d: base64UrlNoPad(dBytes),
      },
      format: 'jwk',
    });
    if (kid !== undefined && kid !== libtrustKeyId(createPublicKey(privateKey))) {
      throw new Error(`JWK EC Public Key ID does not match: ${kid}`);
    }
  } else if (kty === 'RSA') {
    const params: Record<string, string> = {};
    for (const name of ['d', 'p', 'q', 'dp', 'dq', 'qi']) {
      params[name] = base64UrlNoPad(stripLeadingZeros(takeB64(jwk, name)));
    }
    if (jwk.oth !== undefined) throw new Error('JWK RSA Private Key: multi-prime keys are not supported');
    const n = base64UrlNoPad(stripLeadingZeros(takeB64(jwk, 'n')));
    const e = base64UrlNoPad(stripLeadingZeros(takeB64(jwk, 'e')));
    const kid = jwk.kid === undefined ? undefined : takeString(jwk, 'kid');
    privateKey = createPrivateKey({ key: { kty: 'RSA', n, e, ...params }, format: 'jwk' });
    if (kid !== undefined && kid !== libtrustKeyId(createPublicKey(privateKey))) {
      throw new Error(`JWK RSA Public Key ID does not match: ${kid}`);
    }
  } else {
    throw new Error(`JWK Private Key type not supported: "${kty}"`);
  }
  return fromPrivateKey(privateKey, jwk);
}

/**
 * Loads a schema1 signing key from the text of a key file: a PEM `EC PRIVATE KEY` (SEC1, what
 * libtrust writes), `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY` (PKCS#8, accepted in addition to
 * what libtrust reads), or a private JWK (`{"kty":"EC","crv":…,"d":…}`, like Docker's key.json).
 * PEM headers such as libtrust's `keyID:` and unknown JWK members end up in the signature JWK,
 * as libtrust does. Supported: EC P-256/P-384/P-521 and RSA. Throws a plain Error otherwise.
 */
export function loadSigningKey(pemOrJwkText: string): Schema1SigningKey {
  const text = pemOrJwkText.trim();
  if (text.startsWith('{')) return privateKeyFromJwk(text);
  const block = decodePem(text);
  if (!block) throw new Error('unable to find PEM encoded data');
  const type = (
    { 'EC PRIVATE KEY': 'sec1', 'RSA PRIVATE KEY': 'pkcs1', 'PRIVATE KEY': 'pkcs8' } as Record<
      string,
      'sec1' | 'pkcs1' | 'pkcs8' | undefined
    >
  )[block.type];
  if (!type) throw new Error(`unable to get PrivateKey from PEM type: ${block.type}`);
  const privateKey = createPrivateKey({ key: block.der, format: 'der', type });
  const extended: Record<string, GoAny> = {};
  for (const [name, value] of Object.entries(block.headers)) {
    extended[name] = name === 'hosts' ? value.split(',') : value;
  }
  return fromPrivateKey(privateKey, extended);
}

/**
 * PEM of the private key in the form libtrust and Distribution read back: `EC PRIVATE KEY` (SEC1)
 * or `RSA PRIVATE KEY` (PKCS#1), without PEM headers (so `extended` members are not kept).
 */
export function exportSigningKeyPem(key: Schema1SigningKey): string {
  const type = key.privateKey.asymmetricKeyType === 'rsa' ? 'pkcs1' : 'sec1';
  return key.privateKey.export({ format: 'pem', type }) as string;
}
