// The three synchronous SQLite drivers behind one small interface: better-sqlite3 (Node), node:sqlite (Node 22.13+,
// Deno) and bun:sqlite (Bun). Each is loaded only when it is chosen (a dynamic import), so none is needed by a
// deployment that uses another, and no driver type appears in this package's declarations.
import { InvalidInputError, UnavailableError } from '@jobs/core';

export type SqliteDriver = 'better-sqlite3' | 'node:sqlite' | 'bun:sqlite';

export const DRIVERS: readonly SqliteDriver[] = ['better-sqlite3', 'node:sqlite', 'bun:sqlite'];

/** A value SQLite binds: numbers, text and null (booleans are stored as 0/1 by the caller). */
export type SqlValue = string | number | null;
export type Row = Record<string, SqlValue>;

export interface Statement {
  run(...params: SqlValue[]): { changes: number | bigint };
  get(...params: SqlValue[]): Row | undefined;
  all(...params: SqlValue[]): Row[];
}

/** One open database connection. Every call is synchronous: a transaction never spans an `await`. */
export interface Connection {
  readonly driver: SqliteDriver;
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
}

/** The runtime's own driver: bun:sqlite on Bun, node:sqlite on Deno, better-sqlite3 on Node. */
export function defaultDriver(): SqliteDriver {
  const global = globalThis as { Bun?: unknown; Deno?: unknown };
  if (global.Bun !== undefined) return 'bun:sqlite';
  if (global.Deno !== undefined) return 'node:sqlite';
  return 'better-sqlite3';
}

/** A variable, not a literal: bundlers drop the `node:` prefix of a literal, and `sqlite` is another module. */
const NODE_SQLITE: string = 'node:sqlite';

type Loaded = { new (path: string, options?: Record<string, unknown>): any };

/** Opens `path` (or `:memory:`) with the driver; a driver that is missing or does not run here says what to do. */
export async function openConnection(driver: SqliteDriver, path: string): Promise<Connection> {
  let Database: Loaded;
  try {
    if (driver === 'better-sqlite3') {
      const module = (await import('better-sqlite3')) as unknown as { default?: Loaded };
      Database = (module.default ?? module) as Loaded;
    } else if (driver === 'node:sqlite') {
      Database = ((await import(NODE_SQLITE)) as { DatabaseSync: Loaded }).DatabaseSync;
    } else {
      Database = ((await import('bun:sqlite' as string)) as { Database: Loaded }).Database;
    }
  } catch (error) {
    throw new Error(`@jobs/repo-sqlite: the driver ${driver} cannot be loaded here. ${HINTS[driver]}`, {
      cause: error,
    });
  }
  let db: any;
  try {
    db = driver === 'bun:sqlite' ? new Database(path, { create: true, readwrite: true }) : new Database(path);
  } catch (error) {
    // A driver that loads but does not run here (better-sqlite3 built for another Node version, or on Bun or Deno)
    // fails here, with an error that is no SQLite error.
    if (sqliteCode(error) === undefined) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `@jobs/repo-sqlite: the driver ${driver} does not run here (${message}). ${HINTS[driver]}`,
        {
          cause: error,
        },
      );
    }
    throw mapSqliteError(error, 'open');
  }
  return wrap(driver, db);
}

const HINTS: Record<SqliteDriver, string> = {
  'better-sqlite3':
    'Install it (`npm install better-sqlite3`; version 12), built for this Node version (`npm rebuild better-sqlite3`), ' +
    "or choose driver 'node:sqlite' (Node 22.13 or later) or 'bun:sqlite' (Bun).",
  'node:sqlite':
    "node:sqlite needs Node 22.13 or later (or Deno 2.2 or later); on Node 20 use 'better-sqlite3'.",
  'bun:sqlite':
    "bun:sqlite exists only on Bun; on Node use 'better-sqlite3' or 'node:sqlite', on Deno 'node:sqlite'.",
};

function wrap(driver: SqliteDriver, db: any): Connection {
  // bun:sqlite answers null for "no row"; the others undefined.
  const statement = (raw: any): Statement =>
    driver === 'bun:sqlite'
      ? {
          run: (...params) => raw.run(...params),
          get: (...params) => raw.get(...params) ?? undefined,
          all: (...params) => raw.all(...params),
        }
      : raw;
  return {
    driver,
    exec: (sql) => {
      db.exec(sql);
    },
    prepare: (sql) => statement(db.prepare(sql)),
    close: () => {
      db.close();
    },
  };
}

/** Primary result codes (the low byte of an extended code) by name, for the drivers that give only numbers. */
const CODE_NAMES = new Map<number, string>([
  [5, 'SQLITE_BUSY'],
  [6, 'SQLITE_LOCKED'],
  [7, 'SQLITE_NOMEM'],
  [8, 'SQLITE_READONLY'],
  [9, 'SQLITE_INTERRUPT'],
  [10, 'SQLITE_IOERR'],
  [11, 'SQLITE_CORRUPT'],
  [13, 'SQLITE_FULL'],
  [14, 'SQLITE_CANTOPEN'],
  [15, 'SQLITE_PROTOCOL'],
  [18, 'SQLITE_TOOBIG'],
  [19, 'SQLITE_CONSTRAINT'],
  [26, 'SQLITE_NOTADB'],
]);
/** The codes that mean "the database cannot serve this now": worth trying again later. */
const UNAVAILABLE_NAMES = new Set([
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_NOMEM',
  'SQLITE_READONLY',
  'SQLITE_INTERRUPT',
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_CANTOPEN',
  'SQLITE_PROTOCOL',
]);

/** The primary SQLite result code name of a driver error ('SQLITE_BUSY'), or undefined when it is none. */
export function sqliteCode(error: unknown): string | undefined {
  if (!error || typeof error !== 'object') return undefined;
  const err = error as { code?: unknown; errcode?: unknown; errno?: unknown };
  // better-sqlite3 and bun:sqlite: code 'SQLITE_BUSY' or an extended 'SQLITE_BUSY_SNAPSHOT'.
  if (typeof err.code === 'string' && err.code.startsWith('SQLITE_')) {
    return err.code.split('_').slice(0, 2).join('_');
  }
  // node:sqlite: code 'ERR_SQLITE_ERROR' with the numeric (extended) code in errcode.
  const numeric =
    typeof err.errcode === 'number' ? err.errcode : typeof err.errno === 'number' ? err.errno : null;
  if (numeric !== null) return CODE_NAMES.get(numeric & 0xff) ?? `SQLITE_${numeric & 0xff}`;
  return undefined;
}

/** True when the error says the database is busy, locked, full or unreadable: worth trying again later. */
export function isUnavailable(error: unknown): boolean {
  const code = sqliteCode(error);
  return code !== undefined && UNAVAILABLE_NAMES.has(code);
}

/**
 * Driver errors as this project's errors: busy, locked, I/O and full → `UnavailableError` (HTTP 503); a value
 * too big for SQLite → `InvalidInputError`. Anything else (a bug, a corrupt file) passes unchanged.
 */
export function mapSqliteError(error: unknown, operation: string): unknown {
  if (error instanceof UnavailableError || error instanceof InvalidInputError) return error;
  const code = sqliteCode(error);
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new UnavailableError(`The job database is busy (${operation}); try again.`, {
      cause: error,
      retryAfterSeconds: 1,
    });
  }
  if (code !== undefined && UNAVAILABLE_NAMES.has(code)) {
    return new UnavailableError(`The job database is unavailable (${operation}: ${code}).`, {
      cause: error,
      retryAfterSeconds: 5,
    });
  }
  if (code === 'SQLITE_TOOBIG') {
    return new InvalidInputError(`The job database cannot store this value (${operation}).`, [
      { path: [], message: 'Value too big for SQLite', code: 'too_big' },
    ]);
  }
  return error;
}
