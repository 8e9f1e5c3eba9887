/**
 * The internal HTTP ports of the metadata and blob services (WHARF_HTTP_ADDR on those services):
 * bytes that must not travel in NATS, and the RPC fallback for messages that would not fit. Every
 * route under INTERNAL_PREFIX requires INTERNAL_TOKEN_HEADER to equal WHARF_INTERNAL_TOKEN, so a
 * client that reaches the port anyway cannot bypass the gateway's access checks.
 */
export const INTERNAL_PREFIX = '/internal';
export const INTERNAL_TOKEN_HEADER = 'x-wharf-internal-token';

/** `POST /internal/rpc/<service>/<op>`: a JSON request as on NATS, the same Reply envelope back. */
export function rpcPath(service: 'metadata' | 'blob', op: string): string {
  return `${INTERNAL_PREFIX}/rpc/${service}/${op}`;
}

/**
 * Upload bytes: `PATCH /internal/blob/uploads/<id>?repository=<name>` appends, `PUT` with
 * `&digest=<digest>` appends an optional final chunk and commits. Both answer a JSON Reply.
 */
export function uploadPath(id: string, query: { repository: string; digest?: string }): string {
  const q = new URLSearchParams(query as Record<string, string>).toString();
  return `${INTERNAL_PREFIX}/blob/uploads/${encodeURIComponent(id)}?${q}`;
}

/** Blob bytes: `GET /internal/blob/blobs/<digest>` with an optional `Range: bytes=<start>-<end>`. */
export function blobPath(digest: string): string {
  return `${INTERNAL_PREFIX}/blob/blobs/${encodeURIComponent(digest)}`;
}

/** The client's Content-Range / Content-Length, passed on as the blob service's ChunkRequest. */
export const CHUNK_RANGE_HEADER = 'x-wharf-chunk-range';
export const CHUNK_LENGTH_HEADER = 'x-wharf-chunk-length';
