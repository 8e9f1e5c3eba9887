export * from './gateway.module';
export * from './fastify';
export * from './router';
export * from './tls';
