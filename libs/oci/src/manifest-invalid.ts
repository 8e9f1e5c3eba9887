import { RegistryError } from './errors';

// Internal to the manifest parsers; not exported from the package.

export function manifestInvalid(message: string, detail?: Record<string, unknown>): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail);
}

/** A field-level failure: the message reads as a sentence, the detail names the JSON path. */
export function fieldInvalid(field: string, reason: string): RegistryError {
  return manifestInvalid(`${field} ${reason}`, { field });
}
