import type { BlobLink, Descriptor, ListResult, ManifestResult } from '../metadata-api';
import { arr, bool, bytes, count, nullable, obj, opt, str, stringMap, type Infer } from './check';
import { wireOp } from './ops';

/** Metadata operations on the wire (`<prefix>.metadata.<name>`), one per MetadataApi method. */
const manifestResult = obj({ digest: str, mediaType: str, size: count, body: opt(bytes) });
const listResult = obj({ items: arr(str), more: bool });
const blobLink = obj({ digest: str, size: count });
const descriptor = obj({
  mediaType: str,
  digest: str,
  size: count,
  artifactType: opt(str),
  annotations: opt(stringMap),
});
const empty = obj({});
// The request's facts for events (events.ts); optional so calls from older gateways still validate.
const event = opt(
  obj({
    baseUrl: str,
    request: obj({ id: str, addr: str, host: str, method: str, useragent: str }),
    actor: opt(str),
  }),
);

export const METADATA_OPS = {
  ping: wireOp('ping', empty, obj({ service: str })),
  getManifest: wireOp(
    'getManifest',
    obj({ repository: str, reference: str, accept: arr(str, 1000), head: bool, event }),
    manifestResult,
  ),
  putManifest: wireOp(
    'putManifest',
    obj({ repository: str, reference: str, contentType: str, body: bytes, event }),
    obj({ digest: str, subject: opt(str) }),
  ),
  deleteManifest: wireOp('deleteManifest', obj({ repository: str, reference: str, event }), empty),
  listTags: wireOp('listTags', obj({ repository: str, n: opt(count), last: opt(str) }), listResult),
  listRepositories: wireOp('listRepositories', obj({ n: opt(count), last: opt(str) }), listResult),
  listReferrers: wireOp(
    'listReferrers',
    obj({ repository: str, digest: str, artifactType: opt(str) }),
    obj({ manifests: arr(descriptor) }),
  ),
  statBlob: wireOp(
    'statBlob',
    obj({ repository: str, digest: str, event, head: opt(bool) }),
    obj({ link: nullable(blobLink) }),
  ),
  linkBlob: wireOp('linkBlob', obj({ repository: str, digest: str, size: count, event }), empty),
  unlinkBlob: wireOp('unlinkBlob', obj({ repository: str, digest: str, event }), empty),
  mountBlob: wireOp(
    'mountBlob',
    obj({ repository: str, digest: str, from: opt(str), event }),
    obj({ link: nullable(blobLink) }),
  ),
};

export type MetadataOps = typeof METADATA_OPS;
export type ManifestResultWire = Infer<typeof manifestResult>;
export type ListResultWire = Infer<typeof listResult>;

// The wire keeps the domain's shapes; these only drop what JSON cannot carry (undefined fields).
export function manifestResultToWire(m: ManifestResult): ManifestResultWire {
  return { digest: m.digest, mediaType: m.mediaType, size: m.size, ...(m.body ? { body: m.body } : {}) };
}

export function listResultToWire(r: ListResult): ListResultWire {
  return { items: r.items, more: r.more };
}

export function descriptorToWire(d: Descriptor): Descriptor {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.artifactType !== undefined ? { artifactType: d.artifactType } : {}),
    ...(d.annotations !== undefined ? { annotations: d.annotations } : {}),
  };
}

export function blobLinkToWire(l: BlobLink | null): BlobLink | null {
  return l && { digest: l.digest, size: l.size };
}
