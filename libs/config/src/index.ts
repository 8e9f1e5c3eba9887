export * from './config';
export * from './logger';
export * from './cluster';
export * from './events';
export * from './gc';
export * from './heap';
export * from './threadpool';
