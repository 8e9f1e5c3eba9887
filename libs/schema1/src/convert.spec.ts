import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RegistryError } from '@wharf/oci';
import { convertToSchema1, SCHEMA1_EMPTY_LAYER, SCHEMA1_EMPTY_LAYER_DIGEST } from './convert';
import {
  CONFIG_BUILDER_CONFIG,
  CONFIG_BUILDER_FS_LAYERS,
  CONFIG_BUILDER_IDS,
  CONFIG_BUILDER_LAYERS,
  CONFIG_BUILDER_NAME,
  CONFIG_BUILDER_TAG,
  CONFIG_BUILDER_TOP_ID,
  CONFIG_BUILDER_V1_COMPATIBILITY,
} from './fixtures/config-builder';
import { parseUnsignedSchema1 } from './verify';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

function convertVector() {
  return convertToSchema1({
    name: CONFIG_BUILDER_NAME,
    tag: CONFIG_BUILDER_TAG,
    layers: CONFIG_BUILDER_LAYERS,
    config: Buffer.from(CONFIG_BUILDER_CONFIG, 'utf8'),
  });
}

function expectInvalid(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(RegistryError);
  expect((caught as RegistryError).code).toBe('MANIFEST_INVALID');
  expect((caught as RegistryError).message).toMatch(message);
}

/** A minimal schema2 image config around the given history and rootfs. */
function config(fields: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', ...fields }), 'utf8');
}

const L1 = 'sha256:' + '1'.repeat(64);
const L2 = 'sha256:' + '2'.repeat(64);

describe('convertToSchema1 (Distribution 2.8.2 TestConfigBuilder vector)', () => {
  const result = convertVector();
  const manifest = parseUnsignedSchema1(result.payload).manifest;

  it('fixture config is byte-exact (its sha256 is what the top id hashes)', () => {
    expect(sha256(CONFIG_BUILDER_CONFIG)).toBe(
      '4d8e7d9997ab23cfc74a03d3c00316993ec370558d3f111ff73f8351edbefd66',
    );
  });

  it('reproduces name, tag, architecture and the fsLayers list, top first', () => {
    expect(manifest.schemaVersion).toBe(1);
    expect(manifest.name).toBe('testrepo');
    expect(manifest.tag).toBe('testtag');
    expect(manifest.architecture).toBe('amd64');
    expect(manifest.fsLayers.map((l) => l.blobSum)).toEqual(CONFIG_BUILDER_FS_LAYERS);
  });

  it('reproduces every v1Compatibility string exactly', () => {
    expect(manifest.history.map((h) => h.v1Compatibility)).toEqual(CONFIG_BUILDER_V1_COMPATIBILITY);
  });

  it('chains the ids bottom-up and derives the top id from the raw config bytes', () => {
    const ids = manifest.history.map((h) => JSON.parse(h.v1Compatibility).id as string);
    expect(ids[0]).toBe(CONFIG_BUILDER_TOP_ID);
    expect(ids.slice(1).reverse()).toEqual(CONFIG_BUILDER_IDS);
  });

  it('reports that the gzipped empty tar is used', () => {
    expect(result.usesEmptyLayer).toBe(true);
    expect('sha256:' + sha256(SCHEMA1_EMPTY_LAYER)).toBe(SCHEMA1_EMPTY_LAYER_DIGEST);
  });

  it('lays the payload out as Go MarshalIndent with three spaces (digest computed independently with Python)', () => {
    const text = result.payload.toString('utf8');
    expect(text.startsWith('{\n   "schemaVersion": 1,\n   "name": "testrepo",\n   "tag": "testtag",\n')).toBe(
      true,
    );
    expect(text).toContain('\n   "fsLayers": [\n      {\n         "blobSum": "sha256:a3ed');
    expect(text.endsWith('"\n      }\n   ]\n}')).toBe(true);
    expect(result.payload.length).toBe(4065);
    expect(result.digest).toBe('sha256:319e72770a32c35806ec8bf694a6ea1073a096c485bae02fd060fcb699743486');
    expect(result.digest).toBe('sha256:' + sha256(result.payload));
  });

  it('is deterministic', () => {
    expect(convertVector().payload.equals(result.payload)).toBe(true);
  });
});

describe('convertToSchema1 against a conversion made by Docker (httpd image, 15 history entries)', () => {
  const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name));

  it('produces exactly the payload Docker signed (raw config values with \\u0026 escapes and all)', () => {
    const schema2 = JSON.parse(fixture('httpd-schema2.json').toString('utf8'));
    const config = fixture('httpd-config.json');
    expect('sha256:' + sha256(config)).toBe(schema2.config.digest);
    const docker = fixture('httpd-schema1-by-docker.json');
    const dockerPayload = Buffer.concat([
      docker.subarray(0, docker.indexOf(',\n   "signatures"')),
      Buffer.from('\n}'),
    ]);
    const result = convertToSchema1({
      name: 'library/httpd-copy',
      tag: 'latest',
      layers: schema2.layers.map((l: { digest: string }) => l.digest),
      config,
    });
    expect(result.payload.toString('utf8')).toBe(dockerPayload.toString('utf8'));
    expect(result.payload.equals(dockerPayload)).toBe(true);
    expect(result.usesEmptyLayer).toBe(true);
  });
});

describe('convertToSchema1 details', () => {
  const v1 = (cfg: Buffer, layers = [L1]) =>
    parseUnsignedSchema1(
      convertToSchema1({ name: 'r', tag: 't', layers, config: cfg }).payload,
    ).manifest.history.map((h) => h.v1Compatibility);

  it('writes a missing or null created time as Go zero time and keeps offsets and precision', () => {
    const out = v1(
      config({
        rootfs: { type: 'layers', diff_ids: [L1] },
        history: [
          { created: null, created_by: 'a' },
          { created: '2020-01-02T03:04:05.120+02:00', empty_layer: true },
          { empty_layer: true },
        ],
      }),
    );
    expect(out[2]).toContain('"created":"0001-01-01T00:00:00Z"');
    expect(out[1]).toContain('"created":"2020-01-02T03:04:05.12+02:00"');
  });

  it('orders the fields of lower entries id, parent, comment, created, container_config, author, throwaway', () => {
    const out = v1(
      config({
        rootfs: { type: 'layers', diff_ids: [L1] },
        history: [
          {
            created: '2020-01-01T00:00:00Z',
            author: 'A <a@b> & c',
            created_by: 'echo "<x>" \u2028',
            comment: 'c',
          },
          { created: '2020-01-01T00:00:00Z', empty_layer: true },
          { created: '2020-01-01T00:00:00Z', empty_layer: true },
        ],
      }),
    );
    const bottomId = sha256('1'.repeat(64) + ' ');
    expect(out[2]).toBe(
      `{"id":"${bottomId}","comment":"c","created":"2020-01-01T00:00:00Z",` +
        '"container_config":{"Cmd":["echo \\"\\u003cx\\u003e\\" \\u2028"]},"author":"A \\u003ca@b\\u003e \\u0026 c"}',
    );
    const middleId = sha256(SCHEMA1_EMPTY_LAYER_DIGEST.slice(7) + ' ' + bottomId);
    expect(out[1]).toBe(
      `{"id":"${middleId}","parent":"${bottomId}","created":"2020-01-01T00:00:00Z","container_config":{"Cmd":[""]},"throwaway":true}`,
    );
  });

  it('builds the top entry from the raw config: sorted keys, last duplicate wins, only exact rootfs/history dropped, raw values compacted', () => {
    const raw = Buffer.from(
      '{"rootfs":{"type":"layers","diff_ids":["' +
        L1 +
        '"]},"b":1,"é":true,"Z":{ "x" : 1.50, "y":"\\u003c/\\/" ,"z":"<&>"},"a":[ ],"b":2,' +
        '"History":[{"created":"2020-01-01T00:00:00Z"}],"id":"overwritten"}',
      'utf8',
    );
    const out = v1(raw);
    const top = sha256(Buffer.concat([Buffer.from('1'.repeat(64) + '  '), raw]));
    expect(out).toHaveLength(1);
    expect(out[0]).toBe(
      '{"History":[{"created":"2020-01-01T00:00:00Z"}],"Z":{"x":1.50,"y":"\\u003c/\\/","z":"\\u003c\\u0026\\u003e"},' +
        `"a":[],"b":2,"id":"${top}","é":true}`,
    );
  });

  it('reads config keys case-insensitively like Go (History, ROOTFS, Empty_Layer)', () => {
    const out = v1(
      config({
        ROOTFS: { Type: 'layers', DIFF_IDS: [L1] },
        History: [{ Created: '2020-01-01T00:00:00Z' }, { Empty_Layer: true }],
      }),
    );
    expect(out).toHaveLength(2);
    expect(JSON.parse(out[0]).throwaway).toBe(true);
  });

  it('marks the top entry throwaway when the last history entry is empty and reports no empty layer otherwise', () => {
    const withEmpty = convertToSchema1({
      name: 'r',
      tag: 't',
      layers: [L1],
      config: config({ rootfs: { type: 'layers', diff_ids: [L1] }, history: [{}, { empty_layer: true }] }),
    });
    expect(withEmpty.usesEmptyLayer).toBe(true);
    const without = convertToSchema1({
      name: 'r',
      tag: 't',
      layers: [L1, L2],
      config: config({ rootfs: { type: 'layers', diff_ids: [L1, L2] }, history: [{}, {}] }),
    });
    expect(without.usesEmptyLayer).toBe(false);
    const m = parseUnsignedSchema1(without.payload).manifest;
    expect(m.fsLayers.map((l) => l.blobSum)).toEqual([L2, L1]);
    expect(JSON.parse(m.history[0].v1Compatibility).throwaway).toBeUndefined();
  });

  it('gives the first entry the Windows base layer parent: hex of the first 32 bytes of SHA-384(base_layer)', () => {
    const base = 'sha256:' + 'b'.repeat(64);
    const out = v1(
      config({
        rootfs: { type: 'layers+base', diff_ids: [L1, L2], base_layer: base },
        history: [{ created: '2020-01-01T00:00:00Z' }, {}],
      }),
      [L1, L2],
    );
    const baseParent = createHash('sha384').update(base).digest().subarray(0, 32).toString('hex');
    const bottom = JSON.parse(out[1]);
    expect(bottom.id).toBe(sha256('1'.repeat(64) + ' '));
    expect(bottom.parent).toBe(baseParent);
    expect(JSON.parse(out[0]).parent).toBe(bottom.id);
  });

  it('ignores base_layer when the history has a single entry (the loop that applies it is empty)', () => {
    const out = v1(config({ rootfs: { type: 'layers', diff_ids: [L1], base_layer: 'x' }, history: [{}] }), [
      L1,
    ]);
    expect(JSON.parse(out[0]).parent).toBeUndefined();
  });

  it('escapes the name and tag like Go and ignores layer media types (only digests are given)', () => {
    const r = convertToSchema1({
      name: 'a/b',
      tag: 'v1',
      layers: [L1],
      config: config({ rootfs: { diff_ids: [L1] }, history: [{}], architecture: 'arm<64>' }),
    });
    expect(r.payload.toString()).toContain('"architecture": "arm\\u003c64\\u003e"');
  });
});

describe('convertToSchema1 failures are MANIFEST_INVALID', () => {
  const run =
    (cfg: Buffer | string, layers = [L1]) =>
    () =>
      convertToSchema1({
        name: 'r',
        tag: 't',
        layers,
        config: typeof cfg === 'string' ? Buffer.from(cfg) : cfg,
      });

  it('empty history', () => {
    expectInvalid(
      run(config({ rootfs: { diff_ids: [L1] }, history: [] })),
      /^empty history when trying to create schema1 manifest$/,
    );
    expectInvalid(run(config({ rootfs: { diff_ids: [L1] } })), /empty history/);
    expectInvalid(run('null'), /empty history/);
  });

  it('diff_ids and layers of different lengths', () => {
    expectInvalid(
      run(config({ rootfs: { diff_ids: [L1, L2] }, history: [{}, {}] })),
      /number of descriptors and number of layers in rootfs must match: len\(2\) != len\(1\)/,
    );
  });

  it('more non-empty history entries than layers', () => {
    expectInvalid(
      run(config({ rootfs: { diff_ids: [L1] }, history: [{}, {}] })),
      /^too many non-empty layers in History section$/,
    );
    expectInvalid(
      run(config({ rootfs: { diff_ids: [L1] }, history: [{}, {}, { empty_layer: true }] })),
      /too many non-empty layers/,
    );
  });

  it('a layer digest that does not validate', () => {
    expectInvalid(run(config({ rootfs: { diff_ids: [L1] }, history: [{}] }), ['sha256:abc']), /digest/);
    expectInvalid(
      run(config({ rootfs: { diff_ids: [L1] }, history: [{}] }), ['md5:' + 'a'.repeat(32)]),
      /digest/,
    );
  });

  it('a config that is not JSON or has the wrong types', () => {
    expectInvalid(run('not json'), /image config/);
    expectInvalid(run('{"history":['), /image config/);
    expectInvalid(run('[]'), /image config/);
    expectInvalid(run(config({ rootfs: { diff_ids: [L1] }, history: [{ created: 12 }] })), /image config/);
    expectInvalid(
      run(config({ rootfs: { diff_ids: [L1] }, history: [{ created: '2020-01-01' }] })),
      /image config/,
    );
    expectInvalid(
      run(config({ rootfs: { diff_ids: [L1] }, history: [{ empty_layer: 'true' }] })),
      /image config/,
    );
    expectInvalid(
      run(config({ rootfs: { diff_ids: [L1] }, history: [{}], architecture: 5 })),
      /image config/,
    );
    expectInvalid(run(config({ rootfs: { diff_ids: [1] }, history: [{}] })), /image config/);
  });

  it('a config without rootfs (a nil-pointer panic in Distribution)', () => {
    expectInvalid(run(config({ history: [{}] })), /rootfs/);
  });
});
