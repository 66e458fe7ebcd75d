// An API side and a worker side (two runtimes, each with its own repository and queue connections, as in two
// processes) meeting through PostgreSQL and RabbitMQ. Loaded by run.mjs (ESM) and run.cjs (CJS), which pass
// in the packages as they imported or required them: this file imports none of them itself.
const assert = require('node:assert/strict');
const { createHash } = require('node:crypto');

const databaseUrl = process.env.JOBS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const amqpUrl = process.env.JOBS_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Drops the schema and deletes the queues and exchange of one run; safe to call for names that do not exist. */
async function cleanup({ pg, amqplib }, { schema, prefix, endpoints }) {
  if (!/^jobs_install_test_[a-z0-9_]+$/.test(schema)) throw new Error(`refusing to drop schema ${schema}`);
  if (!/^jobs-install-test-[a-z0-9-]+$/.test(prefix))
    throw new Error(`refusing to delete queues of ${prefix}`);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
  const connection = await amqplib.connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    for (const endpoint of endpoints) await channel.deleteQueue(`${prefix}.${endpoint}`);
    await channel.deleteQueue(`${prefix}.dead-letter`);
    await channel.deleteExchange(`${prefix}.dead-letter`);
    await channel.close();
  } finally {
    await connection.close();
  }
}
exports.cleanup = cleanup;
exports.endpoints = ['checksum'];

exports.scenario = async function scenario({ flavour, core, postgres, amqp, pg, amqplib, z }) {
  const schema = process.env.JOBS_INSTALL_TEST_SCHEMA;
  const prefix = process.env.JOBS_INSTALL_TEST_PREFIX;
  assert.ok(schema && prefix, 'JOBS_INSTALL_TEST_SCHEMA and JOBS_INSTALL_TEST_PREFIX must be set');
  const checksum = core.defineEndpoint({
    name: 'checksum',
    input: z.object({ text: z.string() }),
    output: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), flavour: z.string() }),
    retentionMs: 60_000,
  });
  const logger = core.silentLogger;
  const side = (role) => ({
    repository: postgres.createPostgresRepository({
      connectionString: databaseUrl,
      schema,
      poolConfig: { max: 4, application_name: `jobs-install-test ${flavour} ${role}` },
      logger,
    }),
    queue: amqp.createAmqpQueue({
      url: amqpUrl,
      prefix,
      connectionName: `jobs-install-test:${flavour}:${role}`,
      logger,
    }),
  });
  const apiSide = side('api');
  const workerSide = side('worker');
  const api = core.createJobsRuntime({ ...apiSide, endpoints: [checksum], sweeper: false, logger });
  const workers = core.createJobsRuntime({
    ...workerSide,
    workers: [
      core.implement(checksum, async ({ text }, { progress }) => {
        progress(0.5);
        return { sha256: createHash('sha256').update(text).digest('hex'), flavour };
      }),
    ],
    sweeper: { intervalMs: 1_000 },
    logger,
  });
  const steps = [];
  try {
    await workers.start();
    await api.start();
    const migrated = await apiSide.repository.migrate();
    assert.ok(migrated.to >= 1);
    steps.push(`migrated schema ${schema} to version ${migrated.to}`);

    const { job, created } = await api.service.submit('checksum', { text: `hello ${flavour}` });
    assert.equal(created, true);
    const done = await api.service.wait('checksum', job.id, { timeoutMs: 60_000 });
    assert.equal(done.status, 'succeeded', `the job ended ${done.status}: ${JSON.stringify(done.error)}`);
    assert.equal(done.attempt, 1);
    const expected = createHash('sha256').update(`hello ${flavour}`).digest('hex');
    assert.deepEqual(await api.service.output('checksum', job.id), { sha256: expected, flavour });
    steps.push('submit → published to RabbitMQ → run by the worker host → succeeded');

    const removed = await api.service.delete('checksum', job.id);
    assert.equal(removed.outcome, 'removed');
    await assert.rejects(api.service.get('checksum', job.id), core.NotFoundError);
    // The same core instance everywhere: errors thrown by @jobs/repo-postgres are @jobs/core's classes.
    await assert.rejects(
      apiSide.repository.list({ endpoint: 'checksum', owner: null, limit: 10, cursor: 'not a cursor' }),
      core.InvalidInputError,
    );
    steps.push('delete → not found');
  } finally {
    await api.stop({ timeoutMs: 5_000 });
    await workers.stop({ timeoutMs: 5_000 });
    for (const { queue, repository } of [apiSide, workerSide]) {
      await queue.close();
      await repository.close();
    }
    await cleanup({ pg, amqplib }, { schema, prefix, endpoints: exports.endpoints });
  }
  steps.push('schema dropped, queues deleted');
  return steps;
};
