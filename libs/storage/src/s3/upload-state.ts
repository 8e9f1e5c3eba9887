import type { UploadHandle } from '../driver';
import { InvalidStorageKeyError } from '../errors';
import { assertUploadId } from '../keys';
import { PartLayout, S3_MAX_PARTS, S3_MAX_PART_SIZE } from './part-layout';
import { isUploadObjectName, isUploadToken, uploadObjectName } from './s3-layout';

export const S3_DRIVER_NAME = 's3';

/** Superseded objects a handle remembers for the next append to delete; the rest wait for commit or abort. */
const MAX_STALE = 64;

/**
 * The persisted form of an upload (JSON in Postgres). Consecutive full parts written by one append
 * share its token, so a 1 GiB layer pushed in one request is one run, not 205 entries.
 *
 * Parts are plain objects, not parts of an S3 multipart upload: S3 cannot read back the parts of
 * an unfinished multipart upload, and the blob service must re-hash an upload that another replica
 * continues. docs/adr/0007-s3-uploads.md has the whole argument.
 */
export interface S3UploadHandle extends UploadHandle {
  readonly driver: typeof S3_DRIVER_NAME;
  readonly id: string;
  /** Base part size the upload is cut with (see part-layout.ts); fixed for the upload's life. */
  readonly partSize: number;
  /** Full parts in order: `count` parts written by the append that used `token`. */
  readonly parts: readonly { readonly token: string; readonly count: number }[];
  /** The bytes of the next part received so far (fewer than that part holds), if any. */
  readonly tail: { readonly token: string; readonly size: number } | null;
  /** Objects the previous handle referenced and this one does not; safe to delete once this handle is in use. */
  readonly stale: readonly string[];
}

/** A validated handle, with one token per full part. */
export interface UploadState {
  id: string;
  layout: PartLayout;
  partTokens: string[];
  tail: { token: string; size: number } | null;
  stale: string[];
}

export function newUploadState(id: string, partSize: number): UploadState {
  assertUploadId(id);
  return { id, layout: new PartLayout(partSize), partTokens: [], tail: null, stale: [] };
}

/** Bytes the upload holds: its full parts plus its tail. */
export function uploadSize(state: UploadState): number {
  return state.layout.startOf(state.partTokens.length + 1) + (state.tail?.size ?? 0);
}

export function partObjectName(part: number, token: string): string {
  return uploadObjectName('part', part, token);
}

export function tailObjectName(state: UploadState): string | null {
  return state.tail && uploadObjectName('tail', state.partTokens.length + 1, state.tail.token);
}

/** Validates a handle that came back from the database (or from anywhere) before it names a key. */
export function parseUploadHandle(handle: unknown): UploadState {
  const invalid = () => new InvalidStorageKeyError('upload handle', handle);
  if (handle === null || typeof handle !== 'object') throw invalid();
  const h = handle as Record<string, unknown>;
  if (h['driver'] !== S3_DRIVER_NAME) throw invalid();
  assertUploadId(h['id']);
  const partSize = h['partSize'];
  if (
    !Number.isSafeInteger(partSize) ||
    (partSize as number) < 1 ||
    (partSize as number) > S3_MAX_PART_SIZE
  ) {
    throw invalid();
  }
  const layout = new PartLayout(partSize as number);

  const runs = h['parts'];
  if (!Array.isArray(runs) || runs.length > S3_MAX_PARTS) throw invalid();
  const partTokens: string[] = [];
  for (const run of runs as unknown[]) {
    if (run === null || typeof run !== 'object') throw invalid();
    const { token, count } = run as Record<string, unknown>;
    if (!isUploadToken(token) || !Number.isSafeInteger(count) || (count as number) < 1) throw invalid();
    if (partTokens.length + (count as number) > S3_MAX_PARTS) throw invalid();
    for (let i = 0; i < (count as number); i++) partTokens.push(token);
  }

  let tail: UploadState['tail'] = null;
  if (h['tail'] !== null) {
    if (typeof h['tail'] !== 'object' || partTokens.length >= S3_MAX_PARTS) throw invalid();
    const { token, size } = h['tail'] as Record<string, unknown>;
    if (!isUploadToken(token) || !Number.isSafeInteger(size) || (size as number) < 1) throw invalid();
    if ((size as number) >= layout.sizeOf(partTokens.length + 1)) throw invalid();
    tail = { token, size: size as number };
  }

  const stale = h['stale'];
  if (!Array.isArray(stale) || stale.length > MAX_STALE || !stale.every(isUploadObjectName)) throw invalid();

  return { id: h['id'], layout, partTokens, tail, stale: [...stale] };
}

export function toUploadHandle(state: UploadState): S3UploadHandle {
  const parts: { token: string; count: number }[] = [];
  for (const token of state.partTokens) {
    const last = parts[parts.length - 1];
    if (last?.token === token) last.count++;
    else parts.push({ token, count: 1 });
  }
  return {
    driver: S3_DRIVER_NAME,
    id: state.id,
    partSize: state.layout.baseSize,
    parts,
    tail: state.tail,
    stale: state.stale.slice(0, MAX_STALE),
  };
}
