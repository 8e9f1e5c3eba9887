import { parseDigest } from './digest';
import { fieldInvalid } from './manifest-invalid';
import { isValidMediaType } from './media-types';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: Platform;
}

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates one descriptor and keeps only the fields a registry acts on. Unknown fields (`data`,
 * vendor extensions) are tolerated because conformance pushes them and the stored bytes keep them.
 * `field` is the JSON path used in the error detail, e.g. `layers[2]`.
 */
export function parseDescriptor(value: unknown, field: string): Descriptor {
  if (!isJsonObject(value)) throw fieldInvalid(field, 'must be a descriptor object');
  const descriptor: Descriptor = {
    mediaType: requireMediaType(value.mediaType, `${field}.mediaType`),
    digest: requireDigest(value.digest, `${field}.digest`),
    size: requireSize(value.size, `${field}.size`),
  };
  if (value.urls !== undefined) descriptor.urls = requireStringArray(value.urls, `${field}.urls`);
  if (value.annotations !== undefined) {
    descriptor.annotations = parseAnnotations(value.annotations, `${field}.annotations`);
  }
  if (value.artifactType !== undefined) {
    descriptor.artifactType = requireMediaType(value.artifactType, `${field}.artifactType`);
  }
  if (value.platform !== undefined) descriptor.platform = parsePlatform(value.platform, `${field}.platform`);
  return descriptor;
}

export function parseAnnotations(value: unknown, field: string): Record<string, string> {
  if (!isJsonObject(value)) throw fieldInvalid(field, 'must be an object of strings');
  const annotations: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') throw fieldInvalid(`${field}.${key}`, 'must be a string');
    annotations[key] = entry;
  }
  return annotations;
}

export function requireMediaType(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isValidMediaType(value)) {
    throw fieldInvalid(field, 'must be a valid media type');
  }
  return value;
}

function requireDigest(value: unknown, field: string): string {
  if (typeof value !== 'string' || parseDigest(value) === null) {
    throw fieldInvalid(field, 'must be a valid digest');
  }
  return value;
}

function requireSize(value: unknown, field: string): number {
  // Sizes beyond 2^53 cannot be compared exactly, so they are rejected rather than rounded.
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw fieldInvalid(field, 'must be a non-negative integer');
  }
  return value;
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw fieldInvalid(field, 'must be a string');
  return value;
}

function requireStringArray(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string')) {
    throw fieldInvalid(field, 'must be an array of strings');
  }
  return [...(value as string[])];
}

function parsePlatform(value: unknown, field: string): Platform {
  if (!isJsonObject(value)) throw fieldInvalid(field, 'must be an object');
  const platform: Platform = {
    architecture: requireString(value.architecture, `${field}.architecture`),
    os: requireString(value.os, `${field}.os`),
  };
  if (value.variant !== undefined) platform.variant = requireString(value.variant, `${field}.variant`);
  if (value['os.version'] !== undefined) {
    platform['os.version'] = requireString(value['os.version'], `${field}.os.version`);
  }
  if (value['os.features'] !== undefined) {
    platform['os.features'] = requireStringArray(value['os.features'], `${field}.os.features`);
  }
  return platform;
}
