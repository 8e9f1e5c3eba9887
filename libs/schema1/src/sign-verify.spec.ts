import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RegistryError } from '@wharf/oci';
import { convertToSchema1 } from './convert';
import {
  CONFIG_BUILDER_CONFIG,
  CONFIG_BUILDER_LAYERS,
  CONFIG_BUILDER_NAME,
  CONFIG_BUILDER_TAG,
} from './fixtures/config-builder';
import { goJsonIndent } from './go-json';
import { generateSigningKey, loadSigningKey, publicJwkJson, type Schema1SigningKey } from './keys';
import { schema1PrettyFormat, signSchema1 } from './sign';
import { parseUnsignedSchema1, verifySchema1 } from './verify';

const KEY = generateSigningKey();
const NOW = new Date('2016-01-02T03:04:05.678Z');
const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name));

const vector = convertToSchema1({
  name: CONFIG_BUILDER_NAME,
  tag: CONFIG_BUILDER_TAG,
  layers: CONFIG_BUILDER_LAYERS,
  config: Buffer.from(CONFIG_BUILDER_CONFIG, 'utf8'),
});

function errorOf(fn: () => unknown): RegistryError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RegistryError) return e;
    throw e;
  }
  throw new Error('expected a RegistryError');
}

const codes = (fn: () => unknown) => errorOf(fn).errors.map((e) => e.code);

/** A schema1 payload as Go MarshalIndent would write it, from a plain object in field order. */
function payloadOf(manifest: object): Buffer {
  return goJsonIndent(Buffer.from(JSON.stringify(manifest), 'utf8'), '', '   ');
}

const LAYER = 'sha256:' + 'a'.repeat(64);
const manifestWith = (fields: object) =>
  payloadOf({
    schemaVersion: 1,
    name: 'library/x',
    tag: 'latest',
    architecture: 'amd64',
    fsLayers: [{ blobSum: LAYER }],
    history: [{ v1Compatibility: '{"id":"x"}' }],
    ...fields,
  });

describe('signSchema1', () => {
  const doc = signSchema1(vector.payload, KEY, NOW);
  const text = doc.toString('utf8');
  const format = schema1PrettyFormat(vector.payload);
  const signatures = JSON.parse(text).signatures as {
    header: { jwk: Record<string, string>; alg: string };
    signature: string;
    protected: string;
  }[];

  it('finds formatLength just after the ] closing history, and formatTail "\\n}" (Cn0)', () => {
    expect(format.formatLength).toBe(vector.payload.lastIndexOf(']') + 1);
    expect(format.formatTail.toString()).toBe('\n}');
    expect(format.formatTail.toString('base64url')).toBe('Cn0');
    expect(format.indent).toBe('   ');
  });

  it('writes payload[0:formatLength], the signatures member indented with a 3-space prefix, then "\\n}"', () => {
    const head = vector.payload.subarray(0, format.formatLength).toString('utf8');
    const sig = signatures[0];
    const expected =
      head +
      ',\n   "signatures": [\n      {\n         "header": {\n            "jwk": {\n' +
      `               "crv": "P-256",\n               "kid": "${KEY.keyId}",\n               "kty": "EC",\n` +
      `               "x": "${sig.header.jwk.x}",\n               "y": "${sig.header.jwk.y}"\n            },\n` +
      '            "alg": "ES256"\n         },\n' +
      `         "signature": "${sig.signature}",\n         "protected": "${sig.protected}"\n      }\n   ]\n}`;
    expect(text).toBe(expected);
    expect(JSON.stringify(sig.header.jwk)).toBe(publicJwkJson(KEY));
  });

  it('protects {"formatLength","formatTail","time"} with the time in UTC at seconds precision', () => {
    expect(Buffer.from(signatures[0].protected, 'base64url').toString('utf8')).toBe(
      `{"formatLength":${format.formatLength},"formatTail":"Cn0","time":"2016-01-02T03:04:05Z"}`,
    );
    expect(signatures[0].protected).not.toContain('=');
  });

  it('uses a raw 64-byte r||s ES256 signature, base64url without padding', () => {
    expect(signatures[0].signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(Buffer.from(signatures[0].signature, 'base64url')).toHaveLength(64);
  });

  it('keeps the payload and its digest stable across signings at different times', () => {
    const later = signSchema1(vector.payload, KEY, new Date('2030-06-07T08:09:10Z'));
    expect(later.equals(doc)).toBe(false);
    const a = verifySchema1(doc);
    const b = verifySchema1(later);
    expect(a.payload.equals(vector.payload)).toBe(true);
    expect(b.payload.equals(vector.payload)).toBe(true);
    expect(a.digest).toBe(vector.digest);
    expect(b.digest).toBe(vector.digest);
  });

  it('signs with a precomputed format exactly as it signs without one, apart from the ECDSA nonce', () => {
    const withFormat = signSchema1(vector.payload, KEY, NOW, format);
    const stripSignature = (b: Buffer) =>
      b.toString('utf8').replace(/"signature": "[^"]+"/, '"signature": ""');
    expect(stripSignature(withFormat)).toBe(stripSignature(doc));
    expect(verifySchema1(withFormat).digest).toBe(vector.digest);
  });

  it('signs a compact payload in libtrust compact form', () => {
    const compact = Buffer.from(
      '{"schemaVersion":1,"name":"a/b","tag":"t","architecture":"","fsLayers":[],"history":[]}',
    );
    const signed = signSchema1(compact, KEY, NOW).toString('utf8');
    expect(
      signed.startsWith(
        '{"schemaVersion":1,"name":"a/b","tag":"t","architecture":"","fsLayers":[],"history":[],"signatures":[{"header":{"jwk":{"crv":"P-256"',
      ),
    ).toBe(true);
    expect(signed.endsWith('"}]}')).toBe(true);
  });

  it('rejects payloads that are not JSON objects', () => {
    expect(codes(() => signSchema1(Buffer.from('[1]'), KEY))).toEqual(['MANIFEST_INVALID']);
    expect(codes(() => signSchema1(Buffer.from('{"a":1'), KEY))).toEqual(['MANIFEST_INVALID']);
  });

  it('costs little: measured ES256 signs per second of the test vector payload', () => {
    const runs = 2000;
    for (let i = 0; i < 200; i++) signSchema1(vector.payload, KEY);
    const start = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) signSchema1(vector.payload, KEY);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const perSecond = Math.round(runs / seconds);
    console.log(
      `schema1 signing: ${perSecond} signs/s (${((seconds / runs) * 1e3).toFixed(3)} ms each, 4 KB payload)`,
    );
    expect(perSecond).toBeGreaterThan(100);
  });
});

describe('verifySchema1', () => {
  it('verifies a manifest Docker signed with libtrust and returns the digest clients computed for it', () => {
    const result = verifySchema1(fixture('docker-signed-busybox.prettyjws.json'));
    expect(result.digest).toBe('sha256:077594da70fc17ec2c93cfa4e6ed1fcc26992851fb2c71861338aaf4aa9e41b1');
    expect(result.manifest.name).toBe('mitr/buxybox');
    expect(result.manifest.tag).toBe('latest');
    expect(result.manifest.fsLayers).toHaveLength(3);
    expect(result.payload.subarray(-3).toString()).toBe(']\n}');
  });

  it('answers MANIFEST_UNVERIFIED when the signed payload was changed', () => {
    const doc = fixture('docker-signed-busybox.prettyjws.json');
    const tampered = Buffer.from(
      doc.toString('utf8').replace('"name": "mitr/buxybox"', '"name": "mitr/busybox"'),
    );
    expect(tampered.length).toBe(doc.length);
    expect(codes(() => verifySchema1(tampered))).toEqual(['MANIFEST_UNVERIFIED']);
  });

  it('answers MANIFEST_UNVERIFIED for a changed byte in our own signed output, a bad signature or a wrong alg', () => {
    const text = signSchema1(vector.payload, KEY, NOW).toString('utf8');
    expect(
      codes(() => verifySchema1(Buffer.from(text.replace('"tag": "testtag"', '"tag": "testtaG"')))),
    ).toEqual(['MANIFEST_UNVERIFIED']);
    const sig = JSON.parse(text).signatures[0].signature as string;
    const flipped = (sig[10] === 'A' ? 'B' : 'A') + '';
    expect(
      codes(() => verifySchema1(Buffer.from(text.replace(sig, sig.slice(0, 10) + flipped + sig.slice(11))))),
    ).toEqual(['MANIFEST_UNVERIFIED']);
    expect(codes(() => verifySchema1(Buffer.from(text.replace('"alg": "ES256"', '"alg": "ES384"'))))).toEqual(
      ['MANIFEST_UNVERIFIED'],
    );
    expect(codes(() => verifySchema1(Buffer.from(text.replace(/"kid": "[^"]+"/, '"kid": "AAAA"'))))).toEqual([
      'MANIFEST_UNVERIFIED',
    ]);
  });

  it('answers MANIFEST_UNVERIFIED when there are no signatures, MANIFEST_INVALID when the member is missing', () => {
    const payload = manifestWith({}).toString('utf8');
    const head = payload.slice(0, payload.lastIndexOf(']') + 1);
    expect(codes(() => verifySchema1(Buffer.from(head + ',\n   "signatures": []\n}')))).toEqual([
      'MANIFEST_UNVERIFIED',
    ]);
    expect(codes(() => verifySchema1(Buffer.from(payload)))).toEqual(['MANIFEST_INVALID']);
    expect(codes(() => verifySchema1(Buffer.from('not json')))).toEqual(['MANIFEST_INVALID']);
  });

  it('requires all signatures to agree on formatLength (MANIFEST_INVALID otherwise)', () => {
    const a = JSON.parse(signSchema1(manifestWith({}), KEY, NOW).toString('utf8')).signatures[0];
    const b = JSON.parse(
      signSchema1(manifestWith({ tag: 'latest2' }), generateSigningKey(), NOW).toString('utf8'),
    ).signatures[0];
    const payload = manifestWith({}).toString('utf8');
    const head = payload.slice(0, payload.lastIndexOf(']') + 1);
    const doc = head + ',\n   "signatures": ' + JSON.stringify([a, b]) + '\n}';
    const error = errorOf(() => verifySchema1(Buffer.from(doc)));
    expect(error.code).toBe('MANIFEST_INVALID');
    expect(error.message).toBe('conflicting format length');
  });

  it('verifies every signature when several agree', () => {
    const payload = manifestWith({});
    const a = JSON.parse(signSchema1(payload, KEY, NOW).toString('utf8')).signatures[0];
    const b = JSON.parse(signSchema1(payload, generateSigningKey(), NOW).toString('utf8')).signatures[0];
    const text = payload.toString('utf8');
    const head = text.slice(0, text.lastIndexOf(']') + 1);
    expect(
      verifySchema1(Buffer.from(head + ',"signatures":' + JSON.stringify([a, b]) + '}')).payload.equals(
        payload,
      ),
    ).toBe(true);
    const bad = { ...b, signature: a.signature };
    expect(
      codes(() => verifySchema1(Buffer.from(head + ',"signatures":' + JSON.stringify([a, bad]) + '}'))),
    ).toEqual(['MANIFEST_UNVERIFIED']);
  });

  it('accepts P-384 (ES384), P-521 (ES512) and RSA (RS256) signatures', () => {
    const keys: Schema1SigningKey[] = [
      loadSigningKey(
        generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({
          format: 'pem',
          type: 'sec1',
        }) as string,
      ),
      loadSigningKey(
        generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey.export({
          format: 'pem',
          type: 'sec1',
        }) as string,
      ),
      loadSigningKey(
        generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
          format: 'pem',
          type: 'pkcs1',
        }) as string,
      ),
    ];
    expect(keys.map((k) => k.algorithm)).toEqual(['ES384', 'ES512', 'RS256']);
    for (const key of keys) {
      const doc = signSchema1(vector.payload, key, NOW);
      expect(verifySchema1(doc).digest).toBe(vector.digest);
    }
  });

  it('checks the name: Distribution grammar with optional host, at most 255 characters (NAME_INVALID)', () => {
    const sign = (name: string) => signSchema1(manifestWith({ name }), KEY, NOW);
    expect(verifySchema1(sign('localhost:5000/library/x')).manifest.name).toBe('localhost:5000/library/x');
    expect(verifySchema1(sign('a/b__c/d-e.f')).manifest.name).toBe('a/b__c/d-e.f');
    expect(codes(() => verifySchema1(sign('Library/X')))).toEqual(['NAME_INVALID']);
    expect(codes(() => verifySchema1(sign('a//b')))).toEqual(['NAME_INVALID']);
    expect(codes(() => verifySchema1(sign('')))).toEqual(['NAME_INVALID']);
    expect(codes(() => verifySchema1(sign('a'.repeat(256))))).toEqual(['NAME_INVALID']);
    expect(verifySchema1(sign('a'.repeat(255))).manifest.name).toHaveLength(255);
  });

  it('checks history/fsLayers cardinality, at least one layer and blobSum digests (MANIFEST_INVALID)', () => {
    const sign = (fields: object) => signSchema1(manifestWith(fields), KEY, NOW);
    const mismatch = errorOf(() => verifySchema1(sign({ history: [] })));
    expect(mismatch.errors.map((e) => e.code)).toEqual(['MANIFEST_INVALID']);
    expect(mismatch.message).toBe('mismatched history and fslayer cardinality 0 != 1');
    expect(codes(() => verifySchema1(sign({ fsLayers: [], history: [] })))).toEqual(['MANIFEST_INVALID']);
    expect(codes(() => verifySchema1(sign({ fsLayers: [{ blobSum: 'sha256:abc' }] })))).toEqual([
      'MANIFEST_INVALID',
    ]);
    expect(codes(() => verifySchema1(sign({ schemaVersion: 2 })))).toEqual(['MANIFEST_INVALID']);
    expect(codes(() => verifySchema1(sign({ schemaVersion: '1' })))).toEqual(['MANIFEST_INVALID']);
  });

  it('reports every problem found after parsing, name first', () => {
    const doc = signSchema1(manifestWith({ name: 'Bad', history: [] }), KEY, NOW);
    const text = doc.toString('utf8');
    const sig = JSON.parse(text).signatures[0].signature as string;
    const broken = Buffer.from(text.replace(sig, sig.split('').reverse().join('')));
    expect(codes(() => verifySchema1(broken))).toEqual([
      'NAME_INVALID',
      'MANIFEST_INVALID',
      'MANIFEST_UNVERIFIED',
    ]);
  });
});

describe('parseUnsignedSchema1', () => {
  it('reads the stored payload and gives the same digest as the signed form', () => {
    const result = parseUnsignedSchema1(vector.payload);
    expect(result.digest).toBe(vector.digest);
    expect(result.manifest.fsLayers).toHaveLength(6);
  });

  it('applies the same checks', () => {
    expect(codes(() => parseUnsignedSchema1(Buffer.from('{"schemaVersion":1}')))).toEqual([
      'NAME_INVALID',
      'MANIFEST_INVALID',
    ]);
    expect(codes(() => parseUnsignedSchema1(Buffer.from('[')))).toEqual(['MANIFEST_INVALID']);
  });
});
