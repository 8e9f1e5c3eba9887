export { FilesystemDriver } from './filesystem.driver';
export { FilesystemLayout, parseDigest, type ParsedDigest } from './paths';
