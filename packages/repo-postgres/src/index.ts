export { isConnectionError, SchemaVersionError } from './errors.js';
export { IDENTIFIER_PATTERN, InvalidIdentifierError } from './identifiers.js';
export { LATEST_VERSION, MIGRATIONS, type Migration, type MigrationResult } from './migrations.js';
export {
  createPostgresRepository,
  DEFAULT_MAX_PAYLOAD_BYTES,
  type PostgresJobRepository,
  type PostgresRepositoryOptions,
} from './repository.js';
export { submitInTransaction } from './transaction.js';
