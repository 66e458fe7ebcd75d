import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';

export { delay };

/** Runs `fn` on a short-lived connection of its own (schema creation and removal, not measured). */
export async function withAdminClient<T>(
  databaseUrl: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'jobs-bench:admin' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema names are built from a run id of [a-z0-9_] only; checked again here because they are spliced into SQL. */
export function schemaName(prefix: string, runId: string): string {
  const name = `${prefix}_${runId}`;
  if (!IDENTIFIER.test(name)) throw new Error(`Invalid schema name ${name}`);
  return name;
}

export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  if (!IDENTIFIER.test(schema)) throw new Error(`Invalid schema name ${schema}`);
  await withAdminClient(databaseUrl, (client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** Runs every step (even after one failed), then throws an AggregateError of the failures, if any. */
export async function runAll(steps: ReadonlyArray<() => Promise<unknown>>, what: string): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0)
    throw new AggregateError(errors, `${what} failed: ${errors.map((error) => String(error)).join('; ')}`);
}

/** Throws an AggregateError when a library reported errors through its error event during the run. */
export function throwReported(library: string, errors: readonly unknown[]): void {
  if (errors.length > 0)
    throw new AggregateError(
      errors,
      `${library} reported ${errors.length} error(s), the first: ${String(errors[0])}`,
    );
}
