/** Helpers for this package's tests (not exported from the package). */
import pg from 'pg';
import { createPostgresRepository, type PostgresRepositoryOptions } from './repository.js';

/** The PostgreSQL server the tests run against; they fail (never skip) when it is not there. */
export const DATABASE_URL = process.env.JOBS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema name per test file, so parallel runs and other packages never collide. */
export function randomSchema(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/** A fresh application_name, so a test can terminate exactly its own connections. */
export function randomAppName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: DATABASE_URL, application_name: 'jobs-test-admin' });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withAdmin((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** Terminates every backend of this database opened under `applicationName`; returns how many. */
export async function terminateBackends(applicationName: string): Promise<number> {
  return withAdmin(async (client) => {
    const result = await client.query<{ terminated: boolean }>(
      `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`,
      [applicationName],
    );
    return result.rows.filter((row) => row.terminated).length;
  });
}

export function testRepository(schema: string, options: PostgresRepositoryOptions = {}) {
  return createPostgresRepository({
    connectionString: DATABASE_URL,
    schema,
    ...options,
    poolConfig: { max: 10, application_name: 'jobs-test', ...options.poolConfig },
  });
}
