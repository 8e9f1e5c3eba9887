export * from './metadata-api';
export * from './blob-api';
export * from './wire';
export * from './events';
