import { newJobId } from '@jobs/core';
import { afterAll, describe, expect, it } from 'vitest';
import { SchemaVersionError } from './errors.js';
import { LATEST_VERSION, MIGRATIONS } from './migrations.js';
import type { PostgresJobRepository } from './repository.js';
import { createPostgresRepository } from './repository.js';
import { DATABASE_URL, dropSchema, randomSchema, testRepository, withAdmin } from './test-support.js';

const schemas: string[] = [];
function freshSchema(): string {
  const schema = randomSchema('migrations');
  schemas.push(schema);
  return schema;
}

afterAll(async () => {
  for (const schema of schemas) await dropSchema(schema);
});

async function closeAll(repositories: PostgresJobRepository[]) {
  await Promise.all(repositories.map((repository) => repository.close()));
}

async function describeSchema(schema: string) {
  return withAdmin(async (client) => {
    const tables = await client.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    );
    const indexes = await client.query<{ indexname: string }>(
      'SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname',
      [schema],
    );
    const versions = await client.query<{ version: number }>(
      `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
    );
    return {
      tables: tables.rows.map((row) => row.table_name),
      indexes: indexes.rows.map((row) => row.indexname),
      versions: versions.rows.map((row) => row.version),
    };
  });
}

const EXPECTED = {
  tables: ['jobs', 'schema_migrations'],
  indexes: [
    'jobs_expires_idx',
    'jobs_idempotency_idx',
    'jobs_list_idx',
    'jobs_pkey',
    'jobs_queued_idx',
    'jobs_running_idx',
    'jobs_updated_idx',
    'schema_migrations_pkey',
  ],
  versions: MIGRATIONS.map((migration) => migration.version),
};

describe('migrations', () => {
  it('ten concurrent starts on an empty schema end with one correct schema and no error', async () => {
    const schema = freshSchema();
    const repositories = Array.from({ length: 10 }, () => testRepository(schema, { poolConfig: { max: 2 } }));
    try {
      const results = await Promise.all(repositories.map((repository) => repository.migrate()));
      // Exactly one start applied the migrations; the others found them applied.
      expect(results.filter((result) => result.applied.length > 0)).toHaveLength(1);
      for (const result of results) expect(result.to).toBe(LATEST_VERSION);
      expect(await describeSchema(schema)).toEqual(EXPECTED);
      // Every instance works on the shared schema.
      const ids = await Promise.all(
        repositories.map(async (repository, i) => {
          const { job } = await repository.create({
            id: newJobId(),
            endpoint: 'migrations',
            input: { i },
            owner: null,
            idempotencyKey: null,
            inputHash: null,
            maxAttempts: 1,
            estimatedCompletionAt: null,
          });
          return job.id;
        }),
      );
      for (const id of ids) expect(await repositories[0]!.get(id)).toMatchObject({ id, status: 'queued' });
    } finally {
      await closeAll(repositories);
    }
  }, 60_000);

  it('ten concurrent first uses (migrations on first use) also end with one correct schema', async () => {
    const schema = freshSchema();
    const repositories = Array.from({ length: 10 }, () => testRepository(schema, { poolConfig: { max: 2 } }));
    try {
      const results = await Promise.all(repositories.map((repository) => repository.get(newJobId())));
      expect(results).toEqual(Array.from({ length: 10 }, () => null));
      expect(await describeSchema(schema)).toEqual(EXPECTED);
    } finally {
      await closeAll(repositories);
    }
  }, 60_000);

  it('running them again is a no-op', async () => {
    const schema = freshSchema();
    const first = testRepository(schema);
    const second = testRepository(schema);
    try {
      expect(await first.migrate()).toEqual({ from: 0, to: LATEST_VERSION, applied: EXPECTED.versions });
      const before = await withAdmin((client) =>
        client.query(`SELECT version, applied_at FROM "${schema}".schema_migrations ORDER BY version`),
      );
      expect(await first.migrate()).toEqual({ from: LATEST_VERSION, to: LATEST_VERSION, applied: [] });
      expect(await second.migrate()).toEqual({ from: LATEST_VERSION, to: LATEST_VERSION, applied: [] });
      const after = await withAdmin((client) =>
        client.query(`SELECT version, applied_at FROM "${schema}".schema_migrations ORDER BY version`),
      );
      expect(after.rows).toEqual(before.rows);
      expect(await describeSchema(schema)).toEqual(EXPECTED);
    } finally {
      await closeAll([first, second]);
    }
  }, 30_000);

  it('refuses a schema newer than the code with SchemaVersionError, and changes nothing', async () => {
    const schema = freshSchema();
    const setup = testRepository(schema);
    await setup.migrate();
    await setup.close();
    const newer = LATEST_VERSION + 1;
    await withAdmin((client) =>
      client.query(
        `INSERT INTO "${schema}".schema_migrations (version, description) VALUES ($1, 'from the future')`,
        [newer],
      ),
    );

    const repository = testRepository(schema);
    try {
      const error = await repository.migrate().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SchemaVersionError);
      expect(error).toMatchObject({
        name: 'SchemaVersionError',
        schema,
        found: newer,
        supported: LATEST_VERSION,
      });
      expect((error as Error).message).toContain(`version ${newer}`);
      expect((error as Error).message).toMatch(/upgrade/i);
      // Operations refuse too (they migrate on first use), every time.
      await expect(repository.get(newJobId())).rejects.toBeInstanceOf(SchemaVersionError);
      await expect(repository.list({ endpoint: 'x', owner: null, limit: 1 })).rejects.toBeInstanceOf(
        SchemaVersionError,
      );
      const state = await describeSchema(schema);
      expect(state.versions).toEqual([...EXPECTED.versions, newer]);
      expect(state.indexes).toEqual(EXPECTED.indexes);
    } finally {
      await repository.close();
    }
  }, 30_000);

  it('with migrate: false, verifies the version and never changes the schema', async () => {
    const schema = freshSchema();
    const unmigrated = testRepository(schema, { migrate: false });
    try {
      const error = await unmigrated.get(newJobId()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SchemaVersionError);
      expect((error as Error).message).toMatch(/run the migrations/i);
      const exists = await withAdmin((client) =>
        client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]),
      );
      expect(exists.rowCount).toBe(0);

      const migrator = testRepository(schema);
      await migrator.migrate();
      await migrator.close();
      // The failed check is not remembered: the next call checks again and succeeds.
      expect(await unmigrated.get(newJobId())).toBeNull();
    } finally {
      await unmigrated.close();
    }
  }, 30_000);

  it('starts in a schema created beforehand by an administrator', async () => {
    const schema = freshSchema();
    await withAdmin((client) => client.query(`CREATE SCHEMA "${schema}"`));
    const repository = testRepository(schema);
    try {
      expect((await repository.migrate()).applied).toEqual(EXPECTED.versions);
      expect(await describeSchema(schema)).toEqual(EXPECTED);
    } finally {
      await repository.close();
    }
  }, 30_000);

  it('a role without CREATE privilege starts and works on a schema migrated by an administrator', async () => {
    const schema = freshSchema();
    const role = `jobs_app_${crypto.randomUUID().replaceAll('-', '').slice(0, 10)}`;
    const admin = testRepository(schema);
    await admin.migrate();
    await admin.close();
    await withAdmin(async (client) => {
      await client.query(`CREATE ROLE ${role} LOGIN`);
      await client.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${role}`);
      await client.query(`GRANT SELECT ON "${schema}".schema_migrations TO ${role}`);
      await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON "${schema}".jobs TO ${role}`);
    });
    const url = new URL(DATABASE_URL);
    url.username = role;
    const repository = createPostgresRepository({ connectionString: url.toString(), schema });
    try {
      expect(await repository.migrate()).toEqual({ from: LATEST_VERSION, to: LATEST_VERSION, applied: [] });
      const { job } = await repository.create({
        id: newJobId(),
        endpoint: 'limited',
        input: null,
        owner: null,
        idempotencyKey: null,
        inputHash: null,
        maxAttempts: 1,
        estimatedCompletionAt: null,
      });
      expect(await repository.get(job.id)).toEqual(job);
    } finally {
      await repository.close();
      await withAdmin(async (client) => {
        await client.query(`DROP OWNED BY ${role}`);
        await client.query(`DROP ROLE ${role}`);
      });
    }
  }, 30_000);
});
