export * from './rules-file';
export * from './repository-rules';
