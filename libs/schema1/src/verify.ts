/**
 * Reading and verifying pushed schema1 manifests: libtrust `ParsePrettySignature` + `Verify`, then
 * the checks of Distribution 2.8.2's `signedManifestHandler.verifyManifest` (PROTOCOL.md §3.4.4),
 * plus the payload checks Wharf adds (schemaVersion, at least one layer, digest syntax).
 *
 * Error codes: an unreadable envelope or payload (bad JSON, wrong types, no `signatures` key, a
 * malformed protected header, conflicting or impossible format fields) is MANIFEST_INVALID, as in
 * Distribution. Anything about keys and signatures (none at all, unusable key, wrong algorithm,
 * bad signature) is MANIFEST_UNVERIFIED. Name problems are NAME_INVALID. Problems found after the
 * manifest was read are reported together, in Distribution's order.
 */
import {
  createHash,
  createPublicKey,
  verify as cryptoVerify,
  constants,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { RegistryError, type ErrorDescriptor } from '@wharf/oci';
import { goDecodeError, readGoJson } from './go-read';
import {
  goDecodeInto,
  goInt,
  goRaw,
  goSlice,
  goSliceItems,
  goString,
  goStruct,
  goUnmarshalStruct,
  type GoStruct,
} from './go-decode';
import { goAnyDecodable, goFloat64, type GoJsonNode } from './go-json-parse';
import { curveByJwkName, curveOf, joseBase64UrlDecode, libtrustKeyId } from './keys';
import { schema1SigningInput } from './sign';
import { isSchema1Digest, schema1NameProblems } from './validate';

export interface Schema1Manifest {
  schemaVersion: 1;
  name: string;
  tag: string;
  architecture: string;
  fsLayers: { blobSum: string }[];
  history: { v1Compatibility: string }[];
}

export interface VerifiedSchema1 {
  /** The canonical payload (document up to formatLength + formatTail): what gets stored. */
  payload: Buffer;
  /** `sha256:` of the payload: the manifest digest. */
  digest: string;
  manifest: Schema1Manifest;
}

const MANIFEST = goStruct([
  ['schemaVersion', goInt],
  ['mediaType', goString],
  ['name', goString],
  ['tag', goString],
  ['architecture', goString],
  ['fsLayers', goSlice(goStruct([['blobSum', goString]]))],
  ['history', goSlice(goStruct([['v1Compatibility', goString]]))],
]);

const SIGNATURES = goSlice(
  goStruct([
    [
      'header',
      goStruct([
        ['jwk', goRaw],
        ['alg', goString],
        ['x5c', goSlice(goString)],
      ]),
    ],
    ['signature', goString],
    ['protected', goString],
  ]),
);

interface ParsedSignature {
  header: { jwk: Buffer | null; alg: string; x5c: unknown };
  signature: string;
  protected: string;
}

function invalid(message: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message);
}

class Unverified extends Error {}

function member(node: GoJsonNode, key: string): GoJsonNode | undefined {
  if (node.type !== 'object') return undefined;
  let found: GoJsonNode | undefined;
  for (const m of node.members) if (m.key === key) found = m.value;
  return found;
}

/** libtrust `UnmarshalPublicKeyJWK`, enough to verify with: the key and its libtrust kind. */
function publicKeyFromJwk(raw: Buffer): KeyObject {
  let root: GoJsonNode;
  try {
    root = readGoJson(raw);
  } catch {
    throw new Unverified('decoding JWK Public Key JSON data');
  }
  if (root.type !== 'object' || !goAnyDecodable(raw, root)) throw new Unverified('JWK Public Key type');
  const str = (name: string): string | undefined => {
    const v = member(root, name);
    if (v === undefined) return undefined;
    if (v.type !== 'string') throw new Unverified(`JWK "${name}" value must be a string`);
    return v.value;
  };
  const need = (name: string): string => {
    const v = str(name);
    if (v === undefined) throw new Unverified(`JWK "${name}" value not specified`);
    return v;
  };
  const bytes = (name: string): Buffer => {
    const b = joseBase64UrlDecode(need(name));
    if (!b) throw new Unverified(`JWK "${name}": invalid base64 URL encoding`);
    return b;
  };
  const kty = need('kty');
  let key: KeyObject;
  try {
    if (kty === 'EC') {
      const crv = need('crv');
      const curve = curveByJwkName(crv);
      if (!curve) throw new Unverified(`JWK EC Public Key curve identifier not supported: "${crv}"`);
      const x = bytes('x');
      const y = bytes('y');
      if (x.length !== curve.size || y.length !== curve.size)
        throw new Unverified('JWK EC coordinate length');
      key = createPublicKey({
        key: { kty: 'EC', crv, x: x.toString('base64url'), y: y.toString('base64url') },
        format: 'jwk',
      });
    } else if (kty === 'RSA') {
      const n = bytes('n');
      const e = bytes('e');
      if (e.length > 4 || e.length === 0) throw new Unverified('JWK RSA Public Key exponent');
      if (member(root, 'd') !== undefined)
        throw new Unverified('JWK RSA Public Key cannot contain private exponent');
      key = createPublicKey({
        key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') },
        format: 'jwk',
      });
    } else {
      throw new Unverified(`JWK Public Key type not supported: "${kty}"`);
    }
  } catch (e) {
    if (e instanceof Unverified) throw e;
    throw new Unverified('invalid JWK public key');
  }
  const kid = str('kid');
  if (kid !== undefined && kid !== libtrustKeyId(key))
    throw new Unverified(`JWK Public Key ID does not match: ${kid}`);
  return key;
}

/** libtrust `publicKey.Verify(data, alg, signature)` for EC and RSA keys. */
function verifyWith(key: KeyObject, alg: string, input: Buffer, signature: Buffer): void {
  const curve = curveOf(key);
  if (curve) {
    if (alg !== curve.alg)
      throw new Unverified(`EC Public Key with curve ${curve.crv} does not support ${alg}`);
    if (signature.length !== 2 * curve.size) throw new Unverified('signature length');
    if (!cryptoVerify(curve.hash, input, { key, dsaEncoding: 'ieee-p1363' }, signature)) {
      throw new Unverified('invalid signature');
    }
    return;
  }
  if (key.asymmetricKeyType === 'rsa') {
    const hash = { RS256: 'sha256', RS384: 'sha384', RS512: 'sha512' }[alg];
    if (!hash) throw new Unverified(`RSA Digital Signature Algorithm "${alg}" not supported`);
    if (!cryptoVerify(hash, input, { key, padding: constants.RSA_PKCS1_PADDING }, signature)) {
      throw new Unverified('invalid signature');
    }
    return;
  }
  throw new Unverified('public key type is not supported');
}

function keyForSignature(sig: ParsedSignature): KeyObject {
  const chain = goSliceItems<string>(sig.header.x5c);
  if (chain.length > 0) {
    // As libtrust: the first certificate's key is used; the chain itself is not checked here.
    const der =
      /^[A-Za-z0-9+/]*={0,2}$/.test(chain[0]) && chain[0].length % 4 === 0
        ? Buffer.from(chain[0], 'base64')
        : null;
    if (!der) throw new Unverified('x5c: invalid base64');
    try {
      return new X509Certificate(der).publicKey;
    } catch {
      throw new Unverified('x5c: invalid certificate');
    }
  }
  if (sig.header.jwk) return publicKeyFromJwk(sig.header.jwk);
  throw new Unverified('missing public key');
}

interface Envelope {
  payload: Buffer;
  signatures: ParsedSignature[];
}

/** libtrust `ParsePrettySignature(content, "signatures")`. */
function parseEnvelope(doc: Buffer): Envelope {
  let root: GoJsonNode;
  try {
    root = readGoJson(doc);
  } catch (e) {
    throw goDecodeError(e, 'error unmarshalling content');
  }
  if (root.type !== 'object' && root.type !== 'null')
    throw invalid('error unmarshalling content: not an object');
  const sigNode = member(root, 'signatures');
  if (!sigNode) throw invalid('missing signature key');
  let signatures: ParsedSignature[];
  try {
    signatures = goSliceItems<ParsedSignature>(goDecodeInto(doc, sigNode, SIGNATURES, null));
  } catch (e) {
    throw goDecodeError(e, 'error unmarshalling signatures');
  }

  let formatLength = 0;
  let formatTail: Buffer = Buffer.alloc(0);
  for (const sig of signatures) {
    const protectedBytes = joseBase64UrlDecode(sig.protected);
    if (!protectedBytes) throw invalid('base64 decode error in protected header');
    let header: GoJsonNode;
    try {
      header = readGoJson(protectedBytes);
    } catch (e) {
      throw goDecodeError(e, 'error unmarshalling protected header');
    }
    if ((header.type !== 'object' && header.type !== 'null') || !goAnyDecodable(protectedBytes, header)) {
      throw invalid('error unmarshalling protected header');
    }
    const lengthNode = member(header, 'formatLength');
    if (!lengthNode || lengthNode.type !== 'number') throw invalid('missing formatted length');
    const length = Math.trunc(goFloat64(protectedBytes, lengthNode));
    const tailNode = member(header, 'formatTail');
    if (!tailNode || tailNode.type !== 'string') throw invalid('missing formatted tail');
    const tail = joseBase64UrlDecode(tailNode.value);
    if (!tail) throw invalid('base64 decode error on tail');
    if (formatLength === 0) formatLength = length;
    else if (formatLength !== length) throw invalid('conflicting format length');
    if (formatTail.length === 0) formatTail = tail;
    else if (!formatTail.equals(tail)) throw invalid('conflicting format tail');
  }
  if (formatLength > doc.length || formatLength < 0) throw invalid('invalid format length');
  return { payload: Buffer.concat([doc.subarray(0, formatLength), formatTail]), signatures };
}

/** `json.Unmarshal(payload, &schema1.Manifest)` plus the schemaVersion check. */
function readManifest(payload: Buffer): Schema1Manifest {
  let m: GoStruct;
  try {
    m = goUnmarshalStruct(payload, readGoJson(payload), MANIFEST);
  } catch (e) {
    throw goDecodeError(e, 'error unmarshalling manifest');
  }
  if (m.schemaVersion !== 1)
    throw invalid(`unsupported schemaVersion ${String(m.schemaVersion)} for schema1`);
  return {
    schemaVersion: 1,
    name: m.name as string,
    tag: m.tag as string,
    architecture: m.architecture as string,
    fsLayers: goSliceItems<GoStruct>(m.fsLayers).map((l) => ({ blobSum: l.blobSum as string })),
    history: goSliceItems<GoStruct>(m.history).map((h) => ({ v1Compatibility: h.v1Compatibility as string })),
  };
}

/** Distribution's name and cardinality checks, then Wharf's layer checks. */
function manifestProblems(manifest: Schema1Manifest): ErrorDescriptor[] {
  const errors: ErrorDescriptor[] = [];
  for (const reason of schema1NameProblems(manifest.name)) {
    errors.push({
      code: 'NAME_INVALID',
      message: 'invalid repository name',
      detail: { name: manifest.name, reason },
    });
  }
  if (manifest.fsLayers.length !== manifest.history.length) {
    errors.push({
      code: 'MANIFEST_INVALID',
      message: `mismatched history and fslayer cardinality ${manifest.history.length} != ${manifest.fsLayers.length}`,
    });
  }
  return errors;
}

function layerProblems(manifest: Schema1Manifest): ErrorDescriptor[] {
  const errors: ErrorDescriptor[] = [];
  if (manifest.fsLayers.length === 0)
    errors.push({ code: 'MANIFEST_INVALID', message: 'manifest has no fsLayers' });
  for (const { blobSum } of manifest.fsLayers) {
    if (!isSchema1Digest(blobSum)) {
      errors.push({
        code: 'MANIFEST_INVALID',
        message: 'invalid blobSum digest',
        detail: { digest: blobSum },
      });
    }
  }
  return errors;
}

function sha256Digest(data: Buffer): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/**
 * Verifies a pushed signed schema1 manifest (`application/vnd.docker.distribution.manifest.v1+prettyjws`)
 * and returns its canonical payload, digest and fields. Throws RegistryError; several problems
 * found after parsing come together (RegistryError.many), the first deciding the status.
 */
export function verifySchema1(doc: Buffer): VerifiedSchema1 {
  const { payload, signatures } = parseEnvelope(doc);
  // Distribution reads an empty payload here and fails with MANIFEST_INVALID; no signature at all is
  // reported as a verification failure instead.
  if (signatures.length === 0) {
    throw new RegistryError('MANIFEST_UNVERIFIED', undefined, 'no signatures');
  }
  const manifest = readManifest(payload);
  const errors = manifestProblems(manifest);
  try {
    for (const sig of signatures) {
      const key = keyForSignature(sig);
      const signature = joseBase64UrlDecode(sig.signature);
      if (!signature) throw new Unverified('signature: invalid base64');
      verifyWith(key, sig.header.alg, schema1SigningInput(sig.protected, payload), signature);
    }
  } catch (e) {
    if (!(e instanceof Unverified)) throw e;
    errors.push({
      code: 'MANIFEST_UNVERIFIED',
      message: 'manifest failed signature verification',
      detail: e.message,
    });
  }
  errors.push(...layerProblems(manifest));
  if (errors.length > 0) throw RegistryError.many(errors);
  return { payload, digest: sha256Digest(payload), manifest };
}

/**
 * Reads an unsigned schema1 manifest (`application/vnd.docker.distribution.manifest.v1+json`, and
 * the payload Wharf stores for signed pushes): the body is the payload. Same checks as
 * verifySchema1 without the signature part. (Distribution 2.8.2 itself accepts no unsigned push:
 * that media type falls back to the signed parser and fails with "missing signature key".)
 */
export function parseUnsignedSchema1(body: Buffer): VerifiedSchema1 {
  const manifest = readManifest(body);
  const errors = [...manifestProblems(manifest), ...layerProblems(manifest)];
  if (errors.length > 0) throw RegistryError.many(errors);
  return { payload: body, digest: sha256Digest(body), manifest };
}
