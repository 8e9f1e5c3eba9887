export * from './metadata.module';
export * from './metadata.service';
export * from './entities';
export * from './migrations';
