import { z } from 'zod';
import { CACHE_OPS, eventContext } from './coherence';
import { boxed, noReply, op, reply } from './ops';
import { bool, bytes, count, empty, str } from './schema';

/**
 * The metadata service's operations (ADR 21), on `<prefix>.metadata.<name>`: one per MetadataApi
 * method, each taking the request its operation declares here, as it is on the wire.
 */
const manifestResult = z.object({
  digest: str,
  mediaType: str,
  size: count,
  /** Absent for HEAD. */
  body: bytes.optional(),
});

const manifestPutResult = z.object({
  digest: str,
  /** The `subject` digest when the manifest has one (answered as `OCI-Subject`). */
  subject: str.optional(),
});

const listResult = z.object({
  items: z.array(str).max(100_000),
  /** True when more entries follow the last item returned. */
  more: bool,
});

const blobLink = z.object({ digest: str, size: count });

const descriptor = z.object({
  mediaType: str,
  digest: str,
  size: count,
  artifactType: str.optional(),
  annotations: z.record(z.string(), str).optional(),
});

/**
 * The request's facts for events (events.ts): set by the gateway, absent from other callers, and
 * optional so calls from older gateways still read.
 */
const event = eventContext.optional();

/**
 * Set by a pull-through cache filling a link from its upstream: a quota counts it only where a rule
 * names the namespace literally. Optional, so other callers' requests read as ordinary pushes.
 */
const proxied = bool.optional();

const page = z.object({
  /** Page size; undefined means "all" for tags (capped by the service). */
  n: count.optional(),
  /** Exclusive lower bound, in byte order. */
  last: str.optional(),
});

export const METADATA_API_OPS = {
  getManifest: op(
    z.object({
      repository: str,
      /** A tag or a digest, already validated by the gateway. */
      reference: str,
      /** The request's Accept header values (each may itself be a comma-separated list). */
      accept: z.array(str).max(1000),
      /** HEAD needs no body; the service may skip loading it. */
      head: bool,
      /** Set by the gateway: the read is reported as a pull event. */
      event,
    }),
    reply(manifestResult),
  ),
  putManifest: op(
    z.object({
      repository: str,
      /** A tag or a digest, already validated by the gateway. */
      reference: str,
      contentType: str,
      body: bytes,
      event,
      /**
       * Set by a pull-through cache: the manifest was copied from an upstream, whose blobs and child
       * manifests are fetched only when pulled, so they need not be linked here yet and an absent
       * config is tolerated. Optional so older gateways' requests still read as ordinary pushes.
       */
      proxied: bool.optional(),
    }),
    reply(manifestPutResult),
  ),
  /** By digest: removes the manifest and every tag on it. By tag: removes only the tag. */
  deleteManifest: op(z.object({ repository: str, reference: str, event }), noReply),
  listTags: op(z.object({ repository: str, ...page.shape }), reply(listResult)),
  listRepositories: op(page, reply(listResult)),
  listReferrers: op(
    z.object({ repository: str, digest: str, artifactType: str.optional() }),
    boxed('manifests', z.array(descriptor).max(100_000)),
  ),
  statBlob: op(
    z.object({
      repository: str,
      digest: str,
      event,
      /**
       * The client asked with HEAD. Absent from older gateways, which say so only in `event`; the
       * service falls back to that.
       */
      head: bool.optional(),
    }),
    boxed('link', blobLink.nullable()),
  ),
  linkBlob: op(z.object({ repository: str, digest: str, size: count, event, proxied }), noReply),
  unlinkBlob: op(z.object({ repository: str, digest: str, event }), noReply),
  mountBlob: op(
    z.object({ repository: str, digest: str, from: str.optional(), event, proxied }),
    boxed('link', blobLink.nullable()),
  ),
  /**
   * Before an upload starts (POST, not a mount): raises DENIED when the repository's namespace is
   * already at or over its quota, so a client does not send bytes that could never be linked.
   */
  admitUpload: op(z.object({ repository: str }), noReply),
  /**
   * A pull-through cache's lease on one fill (e.g. a blob fetched from an upstream), so that one
   * gateway fetches while the others wait: claimed when nobody holds `key`, the holder's lease ran
   * out, or `holder` already holds it (a renewal, which extends it to `ttlMs` from now).
   */
  claimFill: op(z.object({ key: str, holder: str, ttlMs: count }), reply(z.object({ claimed: bool }))),
  /** Ends the lease on `key` if `holder` holds it; otherwise nothing changes. */
  releaseFill: op(z.object({ key: str, holder: str }), noReply),
};

export const METADATA_OPS = {
  /** Readiness: the service answers once its database does. */
  ping: op(empty, reply(z.object({ service: str }))),
  ...METADATA_API_OPS,
  /** The gateways' cache leases and the pulls they answered (ADR 24). */
  ...CACHE_OPS,
};

export type MetadataApiOps = typeof METADATA_API_OPS;
export type MetadataOps = typeof METADATA_OPS;

export type Descriptor = z.output<typeof descriptor>;
export type ManifestResult = z.output<typeof manifestResult>;
export type ManifestPutResult = z.output<typeof manifestPutResult>;
export type ListRequest = z.output<typeof page>;
export type ListResult = z.output<typeof listResult>;
export type BlobLink = z.output<typeof blobLink>;
