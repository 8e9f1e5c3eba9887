export * from './rules-file';
export * from './repository-rules';
export * from './retention';
export * from './retention-worker';
export * from './tag-pulls';
export * from './quotas';
