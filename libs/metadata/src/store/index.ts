// Every SQL statement of the metadata service, named and typed, one module per table (or per
// reader, for the collector and the reports). Services call these instead of writing SQL.
export * from './repositories';
export * from './manifests';
export * from './tags';
export * from './blob-links';
export * from './gc-queue';
export * from './gc-collector';
export * from './gc-reports';
export * from './events';
export * from './cache-coherence';
export * from './proxy-fills';
export * from './retention';
