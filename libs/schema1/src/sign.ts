/**
 * libtrust "pretty" JWS signing of a schema1 payload (`NewJSONSignature` + `Sign` +
 * `PrettySignature("signatures")` in the libtrust vendored by Distribution 2.8.2; PROTOCOL.md
 * §3.4.1). Distribution signs every schema1 response afresh, so the bytes differ per request while
 * the payload, and so the digest, stay the same.
 */
import { sign as cryptoSign, constants } from 'node:crypto';
import { RegistryError } from '@wharf/oci';
import { goJsonIndent, goJsonQuote } from './go-json';
import { decodeLastUtf8Rune, goAnyDecodable, GoJsonSyntaxError, parseGoJson } from './go-json-parse';
import { formatGoRfc3339Utc } from './go-time';
import { base64UrlNoPad, curveOf, publicJwkJson, type Schema1SigningKey } from './keys';

const LATIN1_SPACES = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0]);
const OTHER_SPACES = new Set([
  0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
  0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Go's unicode.IsSpace. */
function isGoSpace(r: number): boolean {
  return r <= 0xff ? LATIN1_SPACES.has(r) : OTHER_SPACES.has(r);
}

/** Go's bytes.LastIndexFunc(buf[:end], notSpace). */
function lastNonSpace(buf: Uint8Array, end: number): number {
  let i = end;
  while (i > 0) {
    const [r, size] = decodeLastUtf8Rune(buf, i);
    i -= size;
    if (!isGoSpace(r)) return i;
  }
  return -1;
}

export interface Schema1PrettyFormat {
  /** Bytes of the payload kept before the signatures (up to the last value before the final `}`). */
  formatLength: number;
  /** The rest of the payload (`"\n}"` for MarshalIndent output). */
  formatTail: Buffer;
  /** The indent libtrust detects (the text between `{\n` and the first `"`), `""` when compact. */
  indent: string;
}

/**
 * What libtrust's `NewJSONSignature` derives from a payload. The payload must be a JSON object
 * (MANIFEST_INVALID otherwise).
 */
export function schema1PrettyFormat(payload: Uint8Array): Schema1PrettyFormat {
  let root;
  try {
    root = parseGoJson(payload);
  } catch (e) {
    if (e instanceof GoJsonSyntaxError) throw new RegistryError('MANIFEST_INVALID', e.message);
    throw e;
  }
  if ((root.type !== 'object' && root.type !== 'null') || !goAnyDecodable(payload, root)) {
    throw new RegistryError('MANIFEST_INVALID', 'invalid json content');
  }
  let indent = '';
  if (payload.length > 2 && payload[0] === 0x7b && payload[1] === 0x0a) {
    const quote = payload.indexOf(0x22, 1) - 1;
    if (quote > 0) indent = Buffer.from(payload.subarray(2, quote + 1)).toString('utf8');
  }
  const closeIndex = lastNonSpace(payload, payload.length);
  if (closeIndex < 0 || payload[closeIndex] !== 0x7d)
    throw new RegistryError('MANIFEST_INVALID', 'invalid json content');
  const lastIndex = lastNonSpace(payload, closeIndex);
  if (lastIndex < 0 || payload[lastIndex] === 0x2c)
    throw new RegistryError('MANIFEST_INVALID', 'invalid json content');
  const formatLength = lastIndex + 1;
  return { formatLength, formatTail: Buffer.from(payload.subarray(formatLength)), indent };
}

/** The JWS signing input: `protected + "." + base64url(payload)`, ASCII. */
export function schema1SigningInput(protectedHeader: string, payload: Uint8Array): Buffer {
  return Buffer.from(protectedHeader + '.' + base64UrlNoPad(payload), 'latin1');
}

/** Raw JWS signature bytes: r‖s (each zero-padded to the curve size) for EC, PKCS#1 v1.5 for RSA. */
function rawSignature(key: Schema1SigningKey, input: Buffer): Buffer {
  const curve = curveOf(key.privateKey);
  if (curve) return cryptoSign(curve.hash, input, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return cryptoSign('sha256', input, { key: key.privateKey, padding: constants.RSA_PKCS1_PADDING });
}

/**
 * Signs `payload` and returns the pretty JWS document a schema1 GET serves:
 * `payload[0:formatLength]`, `,\n<indent>"signatures": `, the signature array marshalled with
 * prefix and indent `<indent>`, then `\n}` (for a compact payload: `,"signatures":[…]}`).
 * The protected header is `{"formatLength":N,"formatTail":"…","time":"<UTC, seconds>"}`.
 * `format` must be `schema1PrettyFormat(payload)`.
 */
export function signSchema1(
  payload: Buffer,
  key: Schema1SigningKey,
  now: Date = new Date(),
  // Parsing the payload is about half the cost of a signature: a caller that signs one payload many
  // times passes the format it computed once.
  format: Schema1PrettyFormat = schema1PrettyFormat(payload),
): Buffer {
  const { formatLength, formatTail, indent } = format;
  const header =
    '{"formatLength":' +
    formatLength +
    ',"formatTail":' +
    goJsonQuote(base64UrlNoPad(formatTail)) +
    ',"time":' +
    goJsonQuote(formatGoRfc3339Utc(now)) +
    '}';
  const protectedHeader = base64UrlNoPad(Buffer.from(header, 'utf8'));
  const signature = base64UrlNoPad(rawSignature(key, schema1SigningInput(protectedHeader, payload)));
  const signatureJson =
    '[{"header":{"jwk":' +
    publicJwkJson(key) +
    ',"alg":' +
    goJsonQuote(key.algorithm) +
    '},"signature":' +
    goJsonQuote(signature) +
    ',"protected":' +
    goJsonQuote(protectedHeader) +
    '}]';
  const head = payload.subarray(0, formatLength);
  if (indent === '') {
    return Buffer.concat([head, Buffer.from(',"signatures":' + signatureJson + '}', 'utf8')]);
  }
  return Buffer.concat([
    head,
    Buffer.from(',\n' + indent + '"signatures": ', 'utf8'),
    goJsonIndent(Buffer.from(signatureJson, 'utf8'), indent, indent),
    Buffer.from('\n}'),
  ]);
}
