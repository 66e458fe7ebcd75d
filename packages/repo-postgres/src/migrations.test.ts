import { newJobId, newLeaseToken, silentLogger } from '@jobs/core';
import { afterAll, describe, expect, it } from 'vitest';
import { SchemaVersionError } from './errors.js';
import { LATEST_VERSION, MIGRATIONS } from './migrations.js';
import type { PostgresJobRepository } from './repository.js';
import { createPostgresRepository } from './repository.js';
import {
  DATABASE_URL,
  dropSchema,
  newJob,
  randomSchema,
  testRepository,
  values,
  withAdmin,
} from './test-support.js';

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
  tables: ['cleanups', 'dispatches', 'jobs', 'schedules', 'schema_migrations'],
  indexes: [
    'cleanups_due_idx',
    'cleanups_pkey',
    'dispatches_endpoint_idx',
    'jobs_ahead_idx',
    'jobs_created_idx',
    'jobs_delayed_idx',
    'jobs_dispatched_idx',
    'jobs_expires_idx',
    'jobs_finished_idx',
    'jobs_idempotency_idx',
    'jobs_inflight_idx',
    'jobs_limited_idx',
    'jobs_list_idx',
    'jobs_pkey',
    'jobs_running_idx',
    'jobs_undispatched_idx',
    'jobs_unique_idx',
    'schedules_pkey',
    'schema_migrations_pkey',
  ],
  versions: [1, 2, 3, 4],
};

/** The definitions of the indexes the dispatcher and the lease keeper depend on. */
async function indexDefinitions(schema: string): Promise<Record<string, string>> {
  const result = await withAdmin((client) =>
    client.query<{ indexname: string; indexdef: string }>(
      'SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1',
      [schema],
    ),
  );
  return Object.fromEntries(
    result.rows.map((row) => [row.indexname, row.indexdef.replaceAll(`${schema}.`, '')]),
  );
}

/** A schema as the previous release (version 1) left it: MIGRATIONS[0] only. */
async function createVersion1(schema: string): Promise<void> {
  await withAdmin(async (client) => {
    await client.query('BEGIN');
    await client.query(`CREATE SCHEMA "${schema}"`);
    await client.query(
      `CREATE TABLE "${schema}".schema_migrations (
        version integer PRIMARY KEY,
        description text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
    for (const statement of MIGRATIONS[0]!.up(`"${schema}"`)) await client.query(statement);
    await client.query(`INSERT INTO "${schema}".schema_migrations (version, description) VALUES (1, $1)`, [
      MIGRATIONS[0]!.description,
    ]);
    await client.query('COMMIT');
  });
}

describe('migrations', () => {
  it('the latest version is 4, and the versions are 1..n without gaps', () => {
    expect(LATEST_VERSION).toBe(4);
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual(EXPECTED.versions);
  });

  it('ten concurrent starts on an empty schema end with one correct schema and no error', async () => {
    const schema = freshSchema();
    const repositories = Array.from({ length: 10 }, () => testRepository(schema, { poolConfig: { max: 2 } }));
    try {
      const results = await Promise.all(repositories.map((repository) => repository.migrate()));
      // Exactly one start applied the migrations; the others found them applied.
      expect(results.filter((result) => result.applied.length > 0)).toHaveLength(1);
      for (const result of results) expect(result.to).toBe(LATEST_VERSION);
      expect(await describeSchema(schema)).toEqual(EXPECTED);
      const indexes = await indexDefinitions(schema);
      expect(indexes.jobs_undispatched_idx).toBe(
        "CREATE INDEX jobs_undispatched_idx ON jobs USING btree (priority DESC, run_at, id) WHERE ((status = 'queued'::text) AND (dispatched_at IS NULL) AND (limit_key IS NULL))",
      );
      expect(indexes.jobs_dispatched_idx).toBe(
        "CREATE INDEX jobs_dispatched_idx ON jobs USING btree (dispatched_at, id) WHERE ((status = 'queued'::text) AND (dispatched_at IS NOT NULL))",
      );
      // The lease's expiry is in no index: a renewal changes no indexed column.
      expect(indexes.jobs_running_idx).toBe(
        "CREATE INDEX jobs_running_idx ON jobs USING btree (id) WHERE (status = 'running'::text)",
      );
      expect(
        Object.values(indexes).filter((definition) =>
          /lease_expires_at|updated_at|progress/.test(definition),
        ),
      ).toEqual([]);
      // Every instance works on the shared schema.
      const ids = await Promise.all(
        repositories.map(async (repository, i) => {
          const [created] = values(await repository.create([newJob('migrations', { input: { i } })]));
          return created!.job.id;
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

  it('a schema at version 1 with jobs in it: ten concurrent starts migrate it to 3 once, and every job is kept', async () => {
    const schema = freshSchema();
    await createVersion1(schema);
    const endpoint = 'upgraded';
    const ids = {
      waiting: newJobId(),
      dispatched: newJobId(),
      running: newJobId(),
      succeeded: newJobId(),
      expired: newJobId(),
    };
    const at = (iso: string) => new Date(iso);
    // Rows as the previous release wrote them (its columns only).
    await withAdmin(async (client) => {
      const insert = `INSERT INTO "${schema}".jobs (id, endpoint, status, input, output, error, progress, owner,
          idempotency_key, input_hash, attempt, max_attempts, cancel_requested, created_at, updated_at, started_at,
          finished_at, expires_at, run_at, dispatched_at, lease_token, lease_expires_at)
        VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, $10, 3, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`;
      const row = (
        id: string,
        status: string,
        extra: Partial<
          Record<
            | 'output'
            | 'progress'
            | 'owner'
            | 'key'
            | 'hash'
            | 'started'
            | 'finished'
            | 'expires'
            | 'dispatched'
            | 'token'
            | 'lease',
            string | null
          >
        > & {
          attempt?: number;
          cancel?: boolean;
        } = {},
      ) => [
        id,
        endpoint,
        status,
        JSON.stringify({ id }),
        extra.output ?? null,
        extra.progress ?? null,
        extra.owner ?? null,
        extra.key ?? null,
        extra.hash ?? null,
        extra.attempt ?? 0,
        extra.cancel ?? false,
        '2024-01-02T03:04:05.678Z',
        '2024-01-02T03:04:06.789Z',
        extra.started ?? null,
        extra.finished ?? null,
        extra.expires ?? null,
        '2024-01-02T03:04:05.678Z',
        extra.dispatched ?? null,
        extra.token ?? null,
        extra.lease ?? null,
      ];
      const future = new Date(Date.now() + 3_600_000).toISOString();
      const past = new Date(Date.now() - 60_000).toISOString();
      await client.query(insert, row(ids.waiting, 'queued', { owner: 'alice', key: 'key-1', hash: 'h1' }));
      await client.query(
        insert,
        row(ids.dispatched, 'queued', { dispatched: new Date(Date.now() - 600_000).toISOString() }),
      );
      await client.query(
        insert,
        row(ids.running, 'running', {
          attempt: 1,
          started: '2024-01-02T03:04:07.000Z',
          token: 'old-token',
          lease: future,
          progress: JSON.stringify({ fraction: 0.25, message: 'a quarter' }),
          cancel: true,
        }),
      );
      await client.query(
        insert,
        row(ids.succeeded, 'succeeded', {
          attempt: 1,
          output: JSON.stringify({ done: true }),
          finished: '2024-01-02T03:04:08.000Z',
          expires: future,
        }),
      );
      await client.query(
        insert,
        row(ids.expired, 'succeeded', { attempt: 1, output: '1', finished: past, expires: past }),
      );
    });

    // A node that may not migrate refuses the old schema, and changes nothing.
    const verifying = testRepository(schema, { migrate: false });
    await expect(verifying.get(ids.waiting)).rejects.toBeInstanceOf(SchemaVersionError);
    await verifying.close();
    expect((await describeSchema(schema)).versions).toEqual([1]);

    const repositories = Array.from({ length: 10 }, () => testRepository(schema, { poolConfig: { max: 2 } }));
    try {
      const results = await Promise.all(repositories.map((repository) => repository.migrate()));
      expect(results.filter((result) => result.applied.length > 0)).toEqual([
        { from: 1, to: 4, applied: [2, 3, 4] },
      ]);
      for (const result of results) expect(result.to).toBe(4);
      expect(await describeSchema(schema)).toEqual(EXPECTED);
      const repository = repositories[0]!;

      expect(await repository.get(ids.waiting)).toMatchObject({
        id: ids.waiting,
        endpoint,
        status: 'queued',
        input: { id: ids.waiting },
        owner: 'alice',
        idempotencyKey: 'key-1',
        inputHash: 'h1',
        attempt: 0,
        maxAttempts: 3,
        createdAt: at('2024-01-02T03:04:05.678Z'),
        updatedAt: at('2024-01-02T03:04:06.789Z'),
        runAt: at('2024-01-02T03:04:05.678Z'),
        dispatchedAt: null,
        traceContext: null,
      });
      expect(await repository.get(ids.running)).toMatchObject({
        status: 'running',
        attempt: 1,
        leaseToken: 'old-token',
        cancelRequested: true,
        progress: { fraction: 0.25, message: 'a quarter' },
        startedAt: at('2024-01-02T03:04:07.000Z'),
      });
      expect(await repository.get(ids.succeeded)).toMatchObject({
        status: 'succeeded',
        output: { done: true },
        finishedAt: at('2024-01-02T03:04:08.000Z'),
      });
      // An expired job is absent, as before.
      expect(await repository.get(ids.expired)).toBeNull();

      // The new indexes serve the old rows: the never-dispatched job is handed out, the dispatched one only when
      // it is re-dispatched.
      const published: string[][] = [];
      const publish = async (items: readonly { id: string }[]) => {
        published.push(items.map((item) => item.id));
        return items.map(() => true);
      };
      expect(
        await repository.dispatch({ limit: 10, endpoints: [endpoint], redispatchAfterMs: null }, publish),
      ).toMatchObject({
        dispatched: 1,
        found: 1,
      });
      expect(
        await repository.dispatch({ limit: 10, endpoints: [endpoint], redispatchAfterMs: 60_000 }, publish),
      ).toMatchObject({ dispatched: 1, found: 1 });
      expect(published).toEqual([[ids.waiting], [ids.dispatched]]);

      // The running job's lease token still holds it; the idempotency key still answers with its job.
      expect(
        values(
          await repository.settle([
            {
              id: ids.running,
              leaseToken: 'old-token',
              outcome: { status: 'succeeded', output: 2, retentionMs: 60_000 },
            },
          ]),
        ),
      ).toEqual([true]);
      const [again] = values(
        await repository.create([
          newJob(endpoint, { owner: 'alice', idempotencyKey: 'key-1', inputHash: 'h1' }),
        ]),
      );
      expect(again).toMatchObject({ created: false, job: { id: ids.waiting } });

      // Jobs of the old release carry no cleanup: removing or expiring them leaves none pending.
      expect(await repository.remove(ids.succeeded)).toMatchObject({ id: ids.succeeded });
      expect((await repository.deleteExpired(100)).map((job) => job.id)).toContain(ids.expired);
      expect(
        await repository.claimCleanups({
          endpoints: [endpoint],
          limit: 10,
          leaseMs: 1000,
          leaseToken: newLeaseToken(),
        }),
      ).toEqual([]);
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
      await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON "${schema}".cleanups TO ${role}`);
      await client.query(`GRANT SELECT, INSERT, UPDATE ON "${schema}".schedules TO ${role}`);
      await client.query(`GRANT SELECT, INSERT, DELETE ON "${schema}".dispatches TO ${role}`);
    });
    const url = new URL(DATABASE_URL);
    url.username = role;
    const repository = createPostgresRepository({
      connectionString: url.toString(),
      schema,
      logger: silentLogger,
    });
    try {
      expect(await repository.migrate()).toEqual({ from: LATEST_VERSION, to: LATEST_VERSION, applied: [] });
      // The whole lifecycle, a pending cleanup included, works with these privileges.
      const [created] = values(await repository.create([newJob('limited', { input: null })]));
      const id = created!.job.id;
      expect(await repository.get(id, 'header')).toEqual(created!.job);
      const leaseToken = newLeaseToken();
      expect(await repository.claim([{ id, leaseToken, leaseMs: 60_000 }])).toMatchObject([{ id }]);
      const outcome = { status: 'succeeded', output: 1, retentionMs: 60_000, cleanup: true } as const;
      expect(values(await repository.settle([{ id, leaseToken, outcome }]))).toEqual([true]);
      expect(await repository.remove(id)).toMatchObject({ id, status: 'succeeded' });
      const cleanupToken = newLeaseToken();
      const pending = await repository.claimCleanups({
        endpoints: ['limited'],
        limit: 10,
        leaseMs: 60_000,
        leaseToken: cleanupToken,
      });
      expect(pending).toMatchObject([{ job: { id, output: 1 }, attempt: 1 }]);
      expect(await repository.finishCleanup(id, cleanupToken, null)).toBe(true);
      expect(await repository.advanceSchedule('limited-role', new Date())).toBe(true);
      expect((await repository.readSchedules(['limited-role'])).size).toBe(1);
    } finally {
      await repository.close();
      await withAdmin(async (client) => {
        await client.query(`DROP OWNED BY ${role}`);
        await client.query(`DROP ROLE ${role}`);
      });
    }
  }, 30_000);
});
