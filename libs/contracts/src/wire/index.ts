export * from './check';
export * from './envelope';
export * from './ops';
export * from './subjects';
export * from './internal-http';
export * from './metadata-wire';
export * from './blob-wire';
export * from './coherence';
