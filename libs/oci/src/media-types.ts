/** Media types a registry meets (PROTOCOL.md §4). */

// Docker schema1: the payload is stored unsigned (+json) but always served signed (+prettyjws).
export const MT_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json';
export const MT_SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

export const MT_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MT_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MT_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MT_DOCKER_PLUGIN_CONFIG = 'application/vnd.docker.plugin.v1+json';
export const MT_DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const MT_DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
export const MT_DOCKER_FOREIGN_LAYER = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
/** The layer type of schema1 descriptors; notifications also use it for "layer" events. */
export const MT_SCHEMA1_LAYER = 'application/vnd.docker.container.image.rootfs.diff+x-gtar';

export const MT_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MT_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MT_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MT_OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const MT_OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MT_OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const MT_OCI_LAYER_NONDISTRIBUTABLE = 'application/vnd.oci.image.layer.nondistributable.v1.tar';
export const MT_OCI_LAYER_NONDISTRIBUTABLE_GZIP =
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
export const MT_OCI_LAYER_NONDISTRIBUTABLE_ZSTD =
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd';
export const MT_OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const MT_OCI_DESCRIPTOR = 'application/vnd.oci.descriptor.v1+json';
export const MT_OCI_LAYOUT_HEADER = 'application/vnd.oci.layout.header.v1+json';

export const MT_EVENTS = 'application/vnd.docker.distribution.events.v2+json';

export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MT_DOCKER_MANIFEST,
  MT_DOCKER_LIST,
  MT_OCI_MANIFEST,
  MT_OCI_INDEX,
];

export const SCHEMA1_MEDIA_TYPES: readonly string[] = [MT_SCHEMA1, MT_SCHEMA1_SIGNED];

/** Layers whose bytes may live outside the registry, fetched by clients from the descriptor's `urls`. */
export const NON_DISTRIBUTABLE_LAYER_MEDIA_TYPES: readonly string[] = [
  MT_DOCKER_FOREIGN_LAYER,
  MT_OCI_LAYER_NONDISTRIBUTABLE,
  MT_OCI_LAYER_NONDISTRIBUTABLE_GZIP,
  MT_OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
];

/**
 * The bare `type/subtype` of a Content-Type or Accept item: parameters dropped, lower-cased (media
 * types are case-insensitive, and clients do send `; charset=utf-8`). Undefined becomes ''.
 */
export function baseMediaType(value: string | undefined): string {
  if (value === undefined) return '';
  const semicolon = value.indexOf(';');
  return (semicolon === -1 ? value : value.slice(0, semicolon)).trim().toLowerCase();
}

export function isSchema1MediaType(mediaType: string | undefined): boolean {
  return SCHEMA1_MEDIA_TYPES.includes(baseMediaType(mediaType));
}

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return MANIFEST_MEDIA_TYPES.includes(baseMediaType(mediaType));
}

export function isNonDistributableLayer(mediaType: string): boolean {
  return NON_DISTRIBUTABLE_LAYER_MEDIA_TYPES.includes(mediaType);
}

// RFC 6838 restricted names, as image-spec's descriptor schema writes them.
const MEDIA_TYPE_REGEX = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** Syntactic check only: unknown types are valid (artifacts use their own). */
export function isValidMediaType(value: string): boolean {
  return MEDIA_TYPE_REGEX.test(value);
}
