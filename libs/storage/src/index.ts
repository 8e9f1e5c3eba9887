export * from './driver';
export * from './errors';
export * from './filesystem';
export * from './s3';
