export * from './gateway.module';
export * from './edge';
export * from './router';
export * from './tls';
