export * from './blob.module';
export * from './blob.service';
export * from './entities';
export * from './migrations';
export * from './server/blob-server.module';
