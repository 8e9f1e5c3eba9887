export { FilesystemDriver } from './filesystem.driver';
export { FilesystemLayout, parseDigest, type ParsedDigest } from './paths';
export { ensureStoreId, readStoreId } from './store-id';
