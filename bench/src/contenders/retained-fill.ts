import type pg from 'pg';

/**
 * Puts `count` finished (succeeded) jobs into a jobs table with one `INSERT ... SELECT generate_series`, as if
 * they had run long ago and are kept until they expire. Generic on purpose, because the schema changes: the
 * columns are read from information_schema at run time; the ones whose meaning matters get a value by name
 * (when the table has them), every other required column (NOT NULL, no default) a value by its type.
 * Then VACUUM ANALYZE, as autovacuum would have done to a table that old.
 */
export async function fillFinishedJobs(
  client: pg.ClientBase,
  schema: string,
  table: string,
  endpoint: string,
  count: number,
): Promise<void> {
  const columns = await client.query<Column>(
    `SELECT column_name, data_type, is_nullable, column_default, is_identity, is_generated
       FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
    [schema, table],
  );
  if (columns.rows.length === 0) throw new Error(`No table ${schema}.${table} to fill`);
  const filled = columns.rows.flatMap((column) => {
    const value = valueFor(column, endpoint);
    return value === null ? [] : [{ name: column.column_name, value }];
  });
  const target = `"${schema}"."${table}"`;
  await client.query(
    `INSERT INTO ${target} (${filled.map((column) => `"${column.name}"`).join(', ')})
     SELECT ${filled.map((column) => column.value).join(', ')} FROM generate_series(1, ${Math.trunc(count)}) AS g`,
  );
  await client.query(`VACUUM ANALYZE ${target}`);
}

interface Column {
  column_name: string;
  data_type: string;
  is_nullable: 'YES' | 'NO';
  column_default: string | null;
  is_identity: 'YES' | 'NO';
  is_generated: 'ALWAYS' | 'NEVER';
}

/** Finished long ago, one second apart; kept for another 30 days. */
const FINISHED_AT = `now() - g * interval '1 second'`;

/** Values by column name: what makes the row a finished job of this endpoint. */
function byName(endpoint: string): Record<string, string> {
  return {
    endpoint: `'${endpoint.replaceAll("'", "''")}'`,
    status: `'succeeded'`,
    output: `'{}'`,
    attempt: '1',
    created_at: FINISHED_AT,
    updated_at: FINISHED_AT,
    run_at: FINISHED_AT,
    started_at: FINISHED_AT,
    finished_at: FINISHED_AT,
    expires_at: `now() + interval '30 days'`,
  };
}

function valueFor(column: Column, endpoint: string): string | null {
  if (column.is_identity === 'YES' || column.is_generated === 'ALWAYS') return null;
  const named = byName(endpoint)[column.column_name];
  if (named !== undefined) return named;
  if (column.is_nullable === 'YES' || column.column_default !== null) return null;
  return valueOfType(column);
}

function valueOfType(column: Column): string {
  const type = column.data_type;
  if (type === 'text' || type === 'character varying' || type === 'character') return `'retained-' || g`; // unique, in case it is a key
  if (type === 'uuid') return 'gen_random_uuid()';
  if (type === 'jsonb' || type === 'json') return `'{}'`;
  if (type === 'boolean') return 'false';
  if (type.startsWith('timestamp') || type === 'date') return FINISHED_AT;
  if (['integer', 'bigint', 'smallint', 'numeric', 'real', 'double precision'].includes(type)) return '1';
  throw new Error(
    `Cannot fill the required column ${column.column_name} of type ${type}: add it to retained-fill.ts`,
  );
}
