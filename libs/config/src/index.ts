export * from './config';
export * from './errors';
export type { AuthConfig } from './auth';
export {
  requireCluster,
  type ClusterConfig,
  type ClusterRole,
  type RequiredCluster,
  type StorageConfig,
} from './cluster';
export type { EventsConfig, WebhookEndpoint } from './events';
export type { GcConfig } from './gc';
export * from './keys';
export { parseDurationMs, parseHostPort, type Parser } from './parsers';
export * from './readme-tables';
export * from './startup';
export * from './writable-dir';
export * from './watched-file';
