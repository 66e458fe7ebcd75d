// A runtime on a SQLite file in a temp folder (better-sqlite3, the default driver on Node) with the in-memory
// queue: a job submitted, run and recorded; the repository closed and opened again on the same file, where the
// job and its output still are. Loaded by run.mjs (ESM) and run.cjs (CJS), which pass in the packages as they
// imported or required them: this file imports none of them itself.
const assert = require('node:assert/strict');
const { existsSync, mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

exports.scenario = async function scenario({ flavour, core, memory, sqlite, z }) {
  const folder = mkdtempSync(join(tmpdir(), `jobs-install-test-sqlite-${flavour}-`));
  const path = join(folder, 'jobs.sqlite');
  const steps = [];
  try {
    const square = core.defineEndpoint({
      name: 'square',
      input: z.object({ n: z.number() }),
      output: z.object({ n: z.number(), flavour: z.string() }),
    });
    const repository = sqlite.createSqliteRepository({ path, logger: core.silentLogger });
    assert.equal(repository.driver, 'better-sqlite3');
    const runtime = core.createJobsRuntime({
      repository,
      queue: memory.createMemoryQueue(),
      workers: [core.implement(square, ({ n }) => ({ n: n * n, flavour }))],
      logger: core.silentLogger,
    });
    await runtime.start();
    const { job } = await runtime.service.submit('square', { n: 7 });
    const done = await runtime.service.wait('square', job.id, { timeoutMs: 30_000 });
    assert.equal(done.status, 'succeeded');
    steps.push(`job ${done.status} on ${repository.driver}`);
    await runtime.stop();
    await repository.close();
    assert.ok(existsSync(path), 'the database file exists');

    const reopened = sqlite.createSqliteRepository({ path, logger: core.silentLogger });
    const stored = await reopened.get(job.id);
    assert.equal(stored?.status, 'succeeded');
    assert.deepEqual(stored?.output, { n: 49, flavour });
    steps.push('output still there after a reopen');
    // What every repository refuses, this one refuses too.
    const [refused] = await reopened.create([
      {
        id: core.newJobId(),
        endpoint: 'square',
        input: { text: 'nul \u0000' },
        owner: null,
        idempotencyKey: null,
        inputHash: null,
        maxAttempts: 1,
      },
    ]);
    assert.equal(refused.ok, false);
    assert.ok(refused.error instanceof core.InvalidInputError, 'an InvalidInputError of the same @jobs/core');
    steps.push('U+0000 refused with InvalidInputError');
    await reopened.close();
    return steps;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
};
