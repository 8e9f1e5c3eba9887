/**
 * A digest, upload id or upload handle that cannot name a storage object. Drivers throw it before
 * the value reaches a path or an object key, so hostile input never touches storage.
 */
export class InvalidStorageKeyError extends Error {
  readonly code = 'ERR_INVALID_STORAGE_KEY';

  constructor(kind: 'digest' | 'upload id' | 'upload handle', value: unknown) {
    // The value may be attacker controlled and end up in logs: keep it short and quoted.
    super(`invalid ${kind}: ${JSON.stringify(value)?.slice(0, 80) ?? String(value)}`);
    this.name = 'InvalidStorageKeyError';
  }
}
