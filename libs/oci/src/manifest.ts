import { TextDecoder } from 'node:util';
import {
  Descriptor,
  isJsonObject,
  JsonObject,
  parseAnnotations,
  parseDescriptor,
  requireMediaType,
} from './descriptor';
import { fieldInvalid, manifestInvalid } from './manifest-invalid';
import {
  baseMediaType,
  isNonDistributableLayer,
  isSchema1MediaType,
  MANIFEST_MEDIA_TYPES,
  MT_DOCKER_LIST,
  MT_DOCKER_MANIFEST,
  MT_OCI_INDEX,
  MT_OCI_MANIFEST,
  MT_SCHEMA1_SIGNED,
} from './media-types';

export interface ParsedManifest {
  /** The type served as Content-Type: always one of the four schema2 manifest types. */
  mediaType: string;
  kind: 'image' | 'index';
  /** Image only. */
  config?: Descriptor;
  /** Image only; [] for an index. */
  layers: Descriptor[];
  /** Index only; [] for an image. */
  manifests: Descriptor[];
  /** OCI only: Docker formats have no such field. */
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

interface ManifestFormat {
  mediaType: string;
  kind: 'image' | 'index';
  oci: boolean;
}

const FORMAT_LIST: readonly ManifestFormat[] = [
  { mediaType: MT_DOCKER_MANIFEST, kind: 'image', oci: false },
  { mediaType: MT_DOCKER_LIST, kind: 'index', oci: false },
  { mediaType: MT_OCI_MANIFEST, kind: 'image', oci: true },
  { mediaType: MT_OCI_INDEX, kind: 'index', oci: true },
];

// A Map, not an object literal, so a Content-Type like `constructor` cannot reach the prototype.
const FORMATS: ReadonlyMap<string, ManifestFormat> = new Map(FORMAT_LIST.map((f) => [f.mediaType, f]));

// Content-Types that say nothing about the format, so the body has to.
const GENERIC_CONTENT_TYPES = new Set(['', 'application/json', 'application/octet-stream']);

/**
 * Parses and validates a schema2-family manifest (Docker v2, Docker list, OCI manifest, OCI index)
 * as received on PUT. Every failure is a 400 MANIFEST_INVALID. Whether referenced blobs exist is the
 * caller's question (see `blobReferences`, `childManifests`).
 */
export function parseManifest(contentType: string | undefined, body: Buffer): ParsedManifest {
  const declared = baseMediaType(contentType);
  if (isSchema1MediaType(declared)) throw manifestInvalid('schema1 manifests are not accepted');

  const doc = decodeJsonObject(body);
  if (doc.schemaVersion !== 2) {
    throw manifestInvalid(
      doc.schemaVersion === 1 ? 'schema1 manifests are not accepted' : 'schemaVersion must be 2',
      { field: 'schemaVersion' },
    );
  }

  const mediaType = GENERIC_CONTENT_TYPES.has(declared) ? inferMediaType(doc) : declared;
  const format = FORMATS.get(mediaType);
  if (!format) throw manifestInvalid('unsupported manifest media type', { mediaType });
  checkBodyAgrees(doc, format);

  const common = format.oci ? parseOciFields(doc) : {};
  return format.kind === 'image'
    ? { mediaType, kind: 'image', ...parseImageFields(doc), manifests: [], ...common }
    : { mediaType, kind: 'index', layers: [], manifests: parseManifestList(doc), ...common };
}

/**
 * The type a stored manifest is served as, derived from its bytes (PROTOCOL.md §3.1) rather than
 * from whatever Content-Type it was pushed with. Undefined when the bytes are not a manifest.
 */
export function manifestMediaTypeOf(body: Buffer): string | undefined {
  let doc: JsonObject;
  try {
    doc = decodeJsonObject(body);
  } catch {
    return undefined;
  }
  if (doc.schemaVersion === 1) return MT_SCHEMA1_SIGNED;
  if (doc.schemaVersion !== 2) return undefined;
  if (!isPresent(doc.mediaType) || doc.mediaType === '') {
    return Array.isArray(doc.manifests) ? MT_OCI_INDEX : MT_OCI_MANIFEST;
  }
  return typeof doc.mediaType === 'string' && MANIFEST_MEDIA_TYPES.includes(doc.mediaType)
    ? doc.mediaType
    : undefined;
}

/**
 * Digests that must already be linked in the repository for a PUT to succeed, in manifest order.
 * Non-distributable layers with `urls` are fetched by clients from elsewhere, so they are exempt.
 * The subject is deliberately absent: OCI requires accepting a manifest whose subject is missing.
 */
export function blobReferences(manifest: ParsedManifest): string[] {
  const layers = manifest.layers.filter(
    (layer) => !(isNonDistributableLayer(layer.mediaType) && layer.urls?.length),
  );
  const descriptors = manifest.config ? [manifest.config, ...layers] : layers;
  return unique(descriptors.map((d) => d.digest));
}

/** Digests of the manifests an index names; each must exist as a manifest in the repository. */
export function childManifests(manifest: ParsedManifest): string[] {
  return unique(manifest.manifests.map((d) => d.digest));
}

/** The `artifactType` a referrers response reports for this manifest (OCI-1.1.1 end-12). */
export function effectiveArtifactType(manifest: ParsedManifest): string | undefined {
  return manifest.artifactType ?? (manifest.kind === 'image' ? manifest.config?.mediaType : undefined);
}

// Without ignoreBOM the decoder would silently eat a BOM that JSON itself does not allow.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeJsonObject(body: Buffer): JsonObject {
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw manifestInvalid('manifest is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw manifestInvalid('manifest is not valid JSON', { reason: (e as Error).message });
  }
  if (!isJsonObject(value)) throw manifestInvalid('manifest must be a JSON object');
  return value;
}

function inferMediaType(doc: JsonObject): string {
  if (isPresent(doc.mediaType) && doc.mediaType !== '') {
    if (typeof doc.mediaType !== 'string') throw fieldInvalid('mediaType', 'must be a string');
    return doc.mediaType;
  }
  if (Array.isArray(doc.manifests)) return MT_OCI_INDEX;
  if (doc.config !== undefined) return MT_OCI_MANIFEST;
  throw manifestInvalid('cannot determine the manifest media type: send a Content-Type');
}

function checkBodyAgrees(doc: JsonObject, format: ManifestFormat): void {
  const bodyType = doc.mediaType;
  // Docker formats always name themselves; OCI made the field optional.
  const agrees = format.oci
    ? !isPresent(bodyType) || bodyType === '' || bodyType === format.mediaType
    : bodyType === format.mediaType;
  if (!agrees) {
    throw manifestInvalid(`mediaType in manifest does not match ${format.mediaType}`, {
      field: 'mediaType',
      expected: format.mediaType,
      actual: bodyType ?? null,
    });
  }
  if (!format.oci) return;
  // An OCI body that could be read as the other kind is refused, so what is stored is unambiguous.
  if (format.kind === 'image' && isPresent(doc.manifests)) {
    throw manifestInvalid('expected manifest but found index', { field: 'manifests' });
  }
  if (format.kind === 'index' && (isPresent(doc.config) || isPresent(doc.layers))) {
    throw manifestInvalid('expected index but found manifest', {
      field: isPresent(doc.config) ? 'config' : 'layers',
    });
  }
}

function parseImageFields(doc: JsonObject): { config: Descriptor; layers: Descriptor[] } {
  if (!isPresent(doc.config)) throw fieldInvalid('config', 'is required');
  const config = parseDescriptor(doc.config, 'config');
  // `layers` SHOULD be non-empty; conformance pushes `[]` and a missing array means the same.
  const layers = parseDescriptorArray(doc.layers ?? [], 'layers');
  layers.forEach((layer, i) => checkLayerUrls(layer, `layers[${i}].urls`));
  return { config, layers };
}

function parseManifestList(doc: JsonObject): Descriptor[] {
  if (!isPresent(doc.manifests)) throw fieldInvalid('manifests', 'is required');
  return parseDescriptorArray(doc.manifests, 'manifests');
}

function parseOciFields(doc: JsonObject): Pick<ParsedManifest, 'subject' | 'artifactType' | 'annotations'> {
  const fields: Pick<ParsedManifest, 'subject' | 'artifactType' | 'annotations'> = {};
  if (isPresent(doc.subject)) fields.subject = parseDescriptor(doc.subject, 'subject');
  if (isPresent(doc.artifactType)) fields.artifactType = requireMediaType(doc.artifactType, 'artifactType');
  if (isPresent(doc.annotations)) fields.annotations = parseAnnotations(doc.annotations, 'annotations');
  return fields;
}

function parseDescriptorArray(value: unknown, field: string): Descriptor[] {
  if (!Array.isArray(value)) throw fieldInvalid(field, 'must be an array');
  return value.map((entry, i) => parseDescriptor(entry, `${field}[${i}]`));
}

// Distribution turns a bad layer URL into a 500; it is the client's mistake, so it is a 400 here.
// Allow/deny policy on the URLs is the caller's, since it is configuration.
function checkLayerUrls(layer: Descriptor, field: string): void {
  for (const url of layer.urls ?? []) {
    if (!isFetchableUrl(url)) throw fieldInvalid(field, 'must be http(s) URLs without a fragment');
  }
}

function isFetchableUrl(value: string): boolean {
  if (value.includes('#')) return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

// Go unmarshals `null` as absent, and Distribution's behaviour is the reference for what is stored.
function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
