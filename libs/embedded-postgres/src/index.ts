export { resolveBinaries } from './cluster';
export {
  startEmbeddedPostgres,
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
  type EmbeddedPostgresLogLevel,
} from './embedded-postgres';
export {
  DataDirInUseError,
  LOCK_FILE,
  dataDirOwner,
  lockDataDir,
  type DataDirLock,
  type LockOwner,
} from './data-dir-lock';
export { postmastersFor } from './processes';
