export * from './gc-options';
export * from './gc-worker';
export * from './forecast';
export * from './collector';
export { enqueueGarbage, readGcStats, type GcStats } from '../store';
