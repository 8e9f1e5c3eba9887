export * from './proxy-config';
export * from './upstream-client';
export * from './proxy-names';
export * from './proxy-metrics';
export * from './blob-fill';
export * from './manifest-fill';
export * from './pull-through';
