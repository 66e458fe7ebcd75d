// The HTTP suites of @jobs/testing (hostile inputs, fuzzing, owner isolation) against the memory repository
// and PostgreSQL, each behind createJobsApp on a node:http server set up as the examples set theirs up.
import { silentLogger } from '@jobs/core';
import { createMemoryRepository } from '@jobs/memory';
import { createPostgresRepository } from '@jobs/repo-postgres';
import {
  describeHttpFuzz,
  describeHttpHostileInputContract,
  describeHttpOwnerIsolation,
  type HttpSuiteFactory,
} from '@jobs/testing';
import { suiteTarget } from './suite-support.js';

const DATABASE_URL = process.env.JOBS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const memory: HttpSuiteFactory = suiteTarget({
  backend: async () => ({ repository: createMemoryRepository() }),
});

/** A repository in a schema of its own, dropped when the suite's server closes. */
const postgres: HttpSuiteFactory = suiteTarget({
  backend: async () => {
    const schema = `http_suites_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const repository = createPostgresRepository({
      connectionString: DATABASE_URL,
      schema,
      logger: silentLogger,
      poolConfig: { max: 5, application_name: 'jobs-test-http-suites' },
    });
    await repository.migrate();
    return {
      repository,
      async close() {
        try {
          await repository.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await repository.close();
        }
      },
    };
  },
});

for (const [name, factory] of [
  ['memory', memory],
  ['postgres', postgres],
] as const) {
  describeHttpHostileInputContract(name, factory);
  describeHttpOwnerIsolation(name, factory);
  describeHttpFuzz(name, factory);
}
