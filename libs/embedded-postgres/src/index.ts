export {
  startEmbeddedPostgres,
  resolveBinaries,
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
  type EmbeddedPostgresLogLevel,
} from './embedded-postgres';
export { postmastersFor } from './processes';
