export { SchemaVersionError } from './database.js';
export type { SqliteDriver } from './driver.js';
export { SCHEMA_VERSION } from './migrations.js';
export {
  createSqliteRepository,
  DEFAULT_MAX_PAYLOAD_BYTES,
  type SqliteJobRepository,
  type SqliteRepositoryOptions,
} from './repository.js';
