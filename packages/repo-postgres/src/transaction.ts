// Submitting a job inside the caller's own PostgreSQL transaction (the transactional outbox, without an outbox).
import type { Endpoint, JobService, SubmitOptions, SubmitResult } from '@jobs/core';
import type pg from 'pg';
import type { PostgresJobRepository } from './repository.js';

/**
 * `service.submit`, with the job inserted on the caller's connection `client`, inside the transaction the caller
 * has open there: the job exists if and only if that transaction commits, so it is stored with the caller's
 * business data or not at all. It is not visible (nor dispatched) before the commit; its change notification,
 * which PostgreSQL delivers at the commit, wakes the dispatchers of every process then (the poll backstop of
 * each dispatcher covers a notification lost with a connection). A rollback leaves no job and no message.
 *
 * The same checks and answers as `submit` (input, idempotency and unique keys, scheduling; `created: false` for a
 * replay or a unique match), through `JobService.submitWith`. The service's repository must be the PostgreSQL
 * repository of the database `client` is connected to. A failing statement aborts the caller's transaction; an
 * invalid submit throws before any statement runs. Under REPEATABLE READ or SERIALIZABLE, a job holding the same
 * idempotency or unique key committed after the transaction's snapshot fails the insert with a serialization
 * error (retry the transaction); READ COMMITTED, PostgreSQL's default, answers that job. Telemetry counts the
 * submit (`jobs.submitted`, the submit span) when the insert answers, before the caller commits or rolls back.
 */
export async function submitInTransaction(
  client: pg.ClientBase,
  service: JobService,
  endpoint: string | Endpoint,
  input: unknown,
  options: SubmitOptions = {},
): Promise<SubmitResult> {
  const repository = service.repository as Partial<PostgresJobRepository>;
  if (typeof repository.createWith !== 'function') {
    throw new TypeError(
      "submitInTransaction: the service's repository is not a PostgreSQL repository (createPostgresRepository).",
    );
  }
  const name = typeof endpoint === 'string' ? endpoint : endpoint.name;
  return service.submitWith(
    async (job) => {
      const [result] = await repository.createWith!(client, [job]);
      if (!result) throw new Error('submitInTransaction: the repository answered no result.');
      if (!result.ok) throw result.error;
      return result.value;
    },
    name,
    input,
    options,
  );
}
