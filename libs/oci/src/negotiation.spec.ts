import { Descriptor } from './descriptor';
import {
  MT_DOCKER_LIST,
  MT_DOCKER_MANIFEST,
  MT_OCI_INDEX,
  MT_OCI_MANIFEST,
  MT_SCHEMA1,
  MT_SCHEMA1_SIGNED,
} from './media-types';
import { negotiate, Negotiation, parseAccept, selectPlatform } from './negotiation';

describe('parseAccept', () => {
  it('answers a header it has seen from memory, the same whether lines are split or joined', () => {
    const lines = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json'];
    const first = parseAccept(lines);
    expect(parseAccept([...lines])).toBe(first);
    expect([...parseAccept([lines.join(',')]).types].sort()).toEqual([...first.types].sort());
    expect(parseAccept(['text/plain']).types.has('application/vnd.oci.image.manifest.v1+json')).toBe(false);
    // Far more distinct headers than it keeps: still right every time.
    for (let i = 0; i < 1000; i++)
      expect(parseAccept([`application/x-${i}`]).types.has(`application/x-${i}`)).toBe(true);
  });

  it('splits lines on commas, drops parameters, trims and lower-cases', () => {
    const accept = parseAccept([
      `${MT_DOCKER_MANIFEST}; q=0.9 , ${MT_OCI_INDEX.toUpperCase()}`,
      ` ${MT_OCI_MANIFEST};q=0.5`,
    ]);
    expect([...accept.types].sort()).toEqual([MT_DOCKER_MANIFEST, MT_OCI_INDEX, MT_OCI_MANIFEST].sort());
    expect(accept.wildcard).toBe(false);
  });

  it.each(['*/*', 'application/*', 'text/html, */*;q=0.8', 'APPLICATION/*'])(
    'records the wildcard in %p',
    (line) => {
      expect(parseAccept([line]).wildcard).toBe(true);
    },
  );

  it('keeps wildcards out of the type set and skips empty items', () => {
    const accept = parseAccept(['*/*, ,', '']);
    expect(accept.types.size).toBe(0);
    expect(accept.wildcard).toBe(true);
  });

  it('is empty for no header at all', () => {
    const accept = parseAccept([]);
    expect(accept.types.size).toBe(0);
    expect(accept.wildcard).toBe(false);
  });
});

const OCI_MANIFEST_404: Negotiation = {
  action: 'not-found',
  message: 'OCI manifest found, but accept header does not support OCI manifests',
};
const OCI_INDEX_404: Negotiation = {
  action: 'not-found',
  message: 'OCI index found, but accept header does not support OCI indexes',
};
const SERVE: Negotiation = { action: 'serve' };
const SCHEMA1: Negotiation = { action: 'schema1' };
const SELECT_PLATFORM: Negotiation = { action: 'select-platform' };

const NONE: string[] = [];
const WILDCARD = ['*/*'];
const JSON_ONLY = ['application/json'];
const DOCKER_ONLY = [`${MT_DOCKER_MANIFEST}, ${MT_DOCKER_LIST}, ${MT_SCHEMA1_SIGNED}`];
const OCI_ONLY = [`${MT_OCI_MANIFEST}, ${MT_OCI_INDEX}`];
const EVERYTHING = [...DOCKER_ONLY, ...OCI_ONLY];

// stored type, by tag?, Accept lines, expected answer
const TABLE: [string, boolean, string[], Negotiation][] = [
  // By digest the client gets the exact bytes, whatever it accepts.
  [MT_DOCKER_MANIFEST, false, NONE, SERVE],
  [MT_DOCKER_LIST, false, NONE, SERVE],
  [MT_OCI_MANIFEST, false, JSON_ONLY, SERVE],
  [MT_OCI_INDEX, false, DOCKER_ONLY, SERVE],

  [MT_DOCKER_MANIFEST, true, DOCKER_ONLY, SERVE],
  [MT_DOCKER_MANIFEST, true, EVERYTHING, SERVE],
  [MT_DOCKER_MANIFEST, true, NONE, SCHEMA1],
  [MT_DOCKER_MANIFEST, true, WILDCARD, SCHEMA1],
  [MT_DOCKER_MANIFEST, true, OCI_ONLY, SCHEMA1],
  [MT_DOCKER_MANIFEST, true, [MT_DOCKER_LIST], SCHEMA1],

  [MT_DOCKER_LIST, true, DOCKER_ONLY, SERVE],
  [MT_DOCKER_LIST, true, NONE, SELECT_PLATFORM],
  [MT_DOCKER_LIST, true, WILDCARD, SELECT_PLATFORM],
  [MT_DOCKER_LIST, true, [MT_DOCKER_MANIFEST], SELECT_PLATFORM],
  [MT_DOCKER_LIST, true, OCI_ONLY, SELECT_PLATFORM],

  [MT_OCI_MANIFEST, true, OCI_ONLY, SERVE],
  [MT_OCI_MANIFEST, true, [MT_OCI_MANIFEST.toUpperCase()], SERVE],
  [MT_OCI_MANIFEST, true, NONE, SERVE],
  [MT_OCI_MANIFEST, true, WILDCARD, SERVE],
  [MT_OCI_MANIFEST, true, ['application/*'], SERVE],
  [MT_OCI_MANIFEST, true, DOCKER_ONLY, OCI_MANIFEST_404],
  [MT_OCI_MANIFEST, true, JSON_ONLY, OCI_MANIFEST_404],
  [MT_OCI_MANIFEST, true, [MT_OCI_INDEX], OCI_MANIFEST_404],

  [MT_OCI_INDEX, true, OCI_ONLY, SERVE],
  [MT_OCI_INDEX, true, NONE, SERVE],
  [MT_OCI_INDEX, true, WILDCARD, SERVE],
  [MT_OCI_INDEX, true, DOCKER_ONLY, OCI_INDEX_404],
  [MT_OCI_INDEX, true, [MT_OCI_MANIFEST], OCI_INDEX_404],

  [MT_SCHEMA1_SIGNED, true, NONE, SERVE],
  [MT_SCHEMA1_SIGNED, true, OCI_ONLY, SERVE],
  [MT_SCHEMA1, true, DOCKER_ONLY, SERVE],
];

describe('negotiate', () => {
  it.each(TABLE)('stored %s, by tag %p, Accept %j → %j', (stored, byTag, accept, expected) => {
    expect(negotiate(stored, byTag, parseAccept(accept))).toEqual(expected);
  });
});

describe('selectPlatform', () => {
  const entry = (n: number, os: string, architecture: string, variant?: string): Descriptor => ({
    mediaType: MT_DOCKER_MANIFEST,
    digest: `sha256:${String(n).repeat(64)}`,
    size: n,
    platform: { os, architecture, ...(variant ? { variant } : {}) },
  });
  const noPlatform: Descriptor = {
    mediaType: MT_DOCKER_MANIFEST,
    digest: `sha256:${'0'.repeat(64)}`,
    size: 0,
  };

  it('picks the first linux/amd64 entry by default, ignoring the variant', () => {
    const manifests = [
      noPlatform,
      entry(1, 'linux', 'arm64'),
      entry(2, 'linux', 'amd64', 'v3'),
      entry(3, 'linux', 'amd64'),
    ];
    expect(selectPlatform(manifests)).toBe(manifests[2]);
  });

  it('matches os and architecture exactly', () => {
    expect(
      selectPlatform([entry(1, 'Linux', 'amd64'), entry(2, 'linux', 'AMD64'), entry(3, 'windows', 'amd64')]),
    ).toBeUndefined();
  });

  it('honours a requested platform', () => {
    const manifests = [entry(1, 'linux', 'amd64'), entry(2, 'linux', 'arm64')];
    expect(selectPlatform(manifests, { os: 'linux', architecture: 'arm64' })).toBe(manifests[1]);
  });

  it('finds nothing in an empty list', () => {
    expect(selectPlatform([])).toBeUndefined();
  });
});
