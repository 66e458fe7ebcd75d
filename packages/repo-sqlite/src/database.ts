import { UnavailableError } from '@jobs/core';
import {
  type Connection,
  mapSqliteError,
  openConnection,
  type SqliteDriver,
  type Statement,
} from './driver.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

/** The database holds a schema version this code does not know: a newer release created it. */
export class SchemaVersionError extends Error {
  readonly found: number;
  readonly supported: number;
  constructor(path: string, found: number, supported: number) {
    super(
      `The jobs database ${path} is at schema version ${found}, but this version of @jobs/repo-sqlite only knows ` +
        `versions up to ${supported}. Upgrade @jobs/repo-sqlite (or use another file); it will not touch a schema ` +
        'it does not understand.',
    );
    this.name = 'SchemaVersionError';
    this.found = found;
    this.supported = supported;
  }
}

export interface DatabaseOptions {
  path: string;
  driver: SqliteDriver;
  busyTimeoutMs: number;
  synchronous: 'full' | 'normal';
}

/**
 * One connection with its settings, the schema, a statement cache and the transaction helpers. Every helper is
 * synchronous: a transaction begins and ends within one call, so nothing else in the process can interleave.
 */
export class Database {
  readonly #connection: Connection;
  readonly #statements = new Map<string, Statement>();
  #closed = false;
  /** `wal` for a file, `memory` for `:memory:`. */
  readonly journalMode: string;

  private constructor(connection: Connection, journalMode: string) {
    this.#connection = connection;
    this.journalMode = journalMode;
  }

  /** Opens the file, sets WAL, the busy timeout and the sync level, and creates, upgrades or checks the schema. */
  static async open(options: DatabaseOptions): Promise<Database> {
    const connection = await openConnection(options.driver, options.path);
    try {
      // The busy timeout first: switching to WAL and migrating take locks another process may hold.
      connection.exec(`PRAGMA busy_timeout = ${Math.round(options.busyTimeoutMs)}`);
      const mode = connection.prepare('PRAGMA journal_mode = WAL').get();
      const database = new Database(connection, String(mode?.journal_mode ?? '').toLowerCase());
      connection.exec(`PRAGMA synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      database.#migrate(options.path);
      return database;
    } catch (error) {
      connection.close();
      throw mapSqliteError(error, 'open');
    }
  }

  #migrate(path: string): void {
    const version = () => Number(this.#connection.prepare('PRAGMA user_version').get()?.user_version ?? 0);
    if (version() === SCHEMA_VERSION) return;
    // Under the write lock, so that processes starting at once migrate one after the other.
    this.write('migrate', () => {
      const found = version();
      if (found > SCHEMA_VERSION) throw new SchemaVersionError(path, found, SCHEMA_VERSION);
      if (found === SCHEMA_VERSION) return;
      // The migrations this file has not had yet, in order; all or none (SQLite's DDL is transactional).
      for (const migration of MIGRATIONS) {
        if (migration.version <= found) continue;
        for (const statement of migration.statements) this.#connection.exec(statement);
      }
      this.#connection.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    });
  }

  /** The prepared statement for `sql`, prepared once per connection. */
  statement(sql: string): Statement {
    if (this.#closed) throw closedError();
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#connection.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `body` in one `BEGIN IMMEDIATE` transaction: committed when it returns, rolled back when it throws. */
  write<T>(operation: string, body: () => T): T {
    if (this.#closed) throw closedError();
    try {
      this.#connection.exec('BEGIN IMMEDIATE');
    } catch (error) {
      throw mapSqliteError(error, operation);
    }
    let result: T;
    try {
      result = body();
      this.#connection.exec('COMMIT');
    } catch (error) {
      this.#rollback();
      throw mapSqliteError(error, operation);
    }
    return result;
  }

  /** Runs `body` as one savepoint of the current transaction: undone alone when it throws. */
  savepoint<T>(body: () => T): T {
    this.#connection.exec('SAVEPOINT item');
    try {
      const result = body();
      this.#connection.exec('RELEASE item');
      return result;
    } catch (error) {
      this.#connection.exec('ROLLBACK TO item');
      this.#connection.exec('RELEASE item');
      throw error;
    }
  }

  /** Runs a read (one statement or several in a deferred transaction); driver errors mapped. */
  read<T>(operation: string, body: () => T): T {
    if (this.#closed) throw closedError();
    try {
      return body();
    } catch (error) {
      throw mapSqliteError(error, operation);
    }
  }

  #rollback(): void {
    try {
      this.#connection.exec('ROLLBACK');
    } catch {
      // SQLite already rolled back (some errors end the transaction themselves).
    }
  }

  /** Closes the connection; a call still in progress (a dispatch publishing) then fails with `UnavailableError`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    try {
      this.#connection.close();
    } catch (error) {
      throw mapSqliteError(error, 'close');
    }
  }
}

/** The error every call gets after `close()`. */
export const closedError = () => new UnavailableError('The SQLite job repository is closed.');
