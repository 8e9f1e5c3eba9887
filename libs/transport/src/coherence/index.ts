export * from './generations';
export * from './lease';
export * from './invalidations';
export * from './pull-forwarder';
export * from './caching-metadata';
export * from './metadata-cache';
