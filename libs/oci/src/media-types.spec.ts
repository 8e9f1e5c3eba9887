import {
  baseMediaType,
  isManifestMediaType,
  isNonDistributableLayer,
  isSchema1MediaType,
  isValidMediaType,
  MT_DOCKER_FOREIGN_LAYER,
  MT_DOCKER_LAYER,
  MT_OCI_LAYER_GZIP,
  MT_OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
  MT_OCI_MANIFEST,
  MT_SCHEMA1_SIGNED,
} from './media-types';

describe('media types', () => {
  it('baseMediaType drops parameters, trims and lower-cases', () => {
    expect(baseMediaType(' Application/VND.OCI.Image.Manifest.v1+JSON ; charset=utf-8')).toBe(
      MT_OCI_MANIFEST,
    );
    expect(baseMediaType(undefined)).toBe('');
    expect(baseMediaType('')).toBe('');
  });

  it('recognises schema1 and manifest types regardless of parameters', () => {
    expect(isSchema1MediaType(`${MT_SCHEMA1_SIGNED}; charset=utf-8`)).toBe(true);
    expect(isSchema1MediaType(MT_OCI_MANIFEST)).toBe(false);
    expect(isManifestMediaType(MT_OCI_MANIFEST)).toBe(true);
    expect(isManifestMediaType(MT_SCHEMA1_SIGNED)).toBe(false);
  });

  it('counts foreign and non-distributable layers, and no ordinary layer', () => {
    expect(isNonDistributableLayer(MT_DOCKER_FOREIGN_LAYER)).toBe(true);
    expect(isNonDistributableLayer(MT_OCI_LAYER_NONDISTRIBUTABLE_ZSTD)).toBe(true);
    expect(isNonDistributableLayer(MT_DOCKER_LAYER)).toBe(false);
    expect(isNonDistributableLayer(MT_OCI_LAYER_GZIP)).toBe(false);
  });

  it.each(['application/vnd.nhl.peanut.butter.bagel', 'text/plain', MT_OCI_MANIFEST])(
    'accepts %p',
    (type) => {
      expect(isValidMediaType(type)).toBe(true);
    },
  );

  it.each(['', 'application', 'application/', '/json', 'a/b/c', 'application/json; charset=utf-8', 'a b/c'])(
    'rejects %p',
    (type) => {
      expect(isValidMediaType(type)).toBe(false);
    },
  );
});
