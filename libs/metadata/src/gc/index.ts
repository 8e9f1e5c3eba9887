export * from './gc-options';
export * from './gc-worker';
export * from './gc-stats';
export * from './forecast';
export * from './collector';
