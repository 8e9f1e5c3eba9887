/**
 * Registry error codes as data (PROTOCOL.md §1.2). The HTTP status of a response is the status of
 * its first error, so each code carries its own.
 */
export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 404, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: {
    status: 400,
    message: 'manifest references a manifest or blob unknown to registry',
  },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  MANIFEST_UNVERIFIED: { status: 400, message: 'manifest failed signature verification' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'The operation is unsupported.' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  UNKNOWN: { status: 500, message: 'unknown error' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorDescriptor {
  code: ErrorCode;
  message: string;
  detail?: unknown;
}

/**
 * The one exception type the registry raises for client-visible failures. It survives a trip over
 * the wire (`toJSON`/`fromJSON`) so an error raised in the metadata service reaches the client with
 * the same code and status.
 */
export class RegistryError extends Error {
  readonly errors: ErrorDescriptor[];
  /** Overrides the status derived from the first code (e.g. 413 for an oversized manifest). */
  readonly statusOverride?: number;

  constructor(code: ErrorCode, message?: string, detail?: unknown, statusOverride?: number) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'RegistryError';
    this.errors = [
      { code, message: message ?? ERROR_CODES[code].message, ...(detail === undefined ? {} : { detail }) },
    ];
    this.statusOverride = statusOverride;
  }

  static many(errors: ErrorDescriptor[], statusOverride?: number): RegistryError {
    const first = errors[0] ?? { code: 'UNKNOWN', message: ERROR_CODES.UNKNOWN.message };
    const err = new RegistryError(first.code, first.message, first.detail, statusOverride);
    err.errors.splice(0, err.errors.length, ...errors);
    return err;
  }

  get code(): ErrorCode {
    return this.errors[0].code;
  }

  get status(): number {
    return this.statusOverride ?? ERROR_CODES[this.code].status;
  }

  toJSON(): { errors: ErrorDescriptor[]; status?: number } {
    return { errors: this.errors, ...(this.statusOverride ? { status: this.statusOverride } : {}) };
  }

  static fromJSON(value: { errors: ErrorDescriptor[]; status?: number }): RegistryError {
    const errors = value.errors.filter((e) => e.code in ERROR_CODES);
    return RegistryError.many(
      errors.length ? errors : [{ code: 'UNKNOWN', message: 'unknown error' }],
      value.status,
    );
  }
}

/**
 * A path outside every route, on any port of either shape. 404 rather than UNSUPPORTED's own 405:
 * nothing is there, whatever the method.
 */
export function noSuchRoute(method: string, path: string): RegistryError {
  return new RegistryError('UNSUPPORTED', 'no such route', { method, path }, 404);
}

/** A method the resource at a route does not take: UNSUPPORTED with its own 405. */
export function methodNotAllowed(method: string): RegistryError {
  return new RegistryError('UNSUPPORTED', `method ${method} is not supported on this resource`);
}
