export * from './data-source';
export * from './rows';
export * from './unavailable';
