export * from './metadata.module';
export * from './metadata.service';
export * from './schema1.rewriter';
export * from './schema1-key';
export * from './entities';
export * from './migrations';
export * from './server/metadata-server.module';
