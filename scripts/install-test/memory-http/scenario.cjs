// One process with everything in memory, served over real HTTP (@hono/node-server) and driven with fetch, the
// typed client and the `jobs-client` command of @jobs/client. Loaded by run.mjs (ESM) and run.cjs (CJS),
// which pass in the packages as they imported or required them: this file imports none of them itself.
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { join } = require('node:path');
const { promisify } = require('node:util');

const run = promisify(execFile);

exports.scenario = async function scenario({
  flavour,
  core,
  memory,
  http,
  client,
  dashboard,
  hono,
  nodeServer,
  z,
}) {
  const echo = core.defineEndpoint({
    name: 'echo',
    input: z.object({ text: z.string().min(1) }),
    output: z.object({ text: z.string(), attempt: z.number().int(), flavour: z.string() }),
    retentionMs: 60_000,
  });
  const worker = core.implement(echo, async (input, ctx) => {
    ctx.progress(0.5, 'halfway');
    await core.sleep(20);
    return { text: input.text.toUpperCase(), attempt: ctx.attempt, flavour };
  });
  const repository = memory.createMemoryRepository();
  const queue = memory.createMemoryQueue();
  const runtime = core.createJobsRuntime({ repository, queue, workers: [worker], logger: core.silentLogger });
  await runtime.start();

  const shutdown = new AbortController();
  const app = new hono.Hono();
  app.route('/jobs', http.createJobsApp({ service: runtime.service, signal: shutdown.signal }));
  app.route(
    '/dashboard',
    dashboard.createDashboard({
      service: runtime.service,
      signal: shutdown.signal,
      authorize: (c) => (c.req.header('authorization') === 'Bearer install-test' ? {} : null),
    }),
  );
  const server = nodeServer.serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  const steps = [];
  try {
    // POST → 202 with the job's URL.
    const posted = await fetch(`${origin}/jobs/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: `hello ${flavour}` }),
      redirect: 'manual',
    });
    assert.equal(posted.status, 202);
    const location = posted.headers.get('location');
    assert.match(location, /^\/jobs\/echo\/[^/]+$/);
    assert.ok(Number(posted.headers.get('retry-after')) >= 0);
    const submitted = await posted.json();
    assert.equal(submitted.status === 'queued' || submitted.status === 'running', true);

    // Poll (long-polling with Prefer: wait) until 303 See Other to the output.
    let polled;
    for (let round = 0; ; round++) {
      polled = await fetch(`${origin}${location}`, { headers: { prefer: 'wait=5' }, redirect: 'manual' });
      if (polled.status !== 200) break;
      const job = await polled.json();
      assert.ok(['queued', 'running'].includes(job.status), `unexpected status ${job.status}`);
      assert.ok(round < 24, 'the job did not finish within two minutes');
    }
    assert.equal(polled.status, 303);
    assert.equal(polled.headers.get('location'), `${location}/output`);
    assert.equal((await polled.json()).status, 'succeeded');
    const output = await fetch(`${origin}${location}/output`);
    assert.equal(output.status, 200);
    assert.deepEqual(await output.json(), { text: `HELLO ${flavour.toUpperCase()}`, attempt: 1, flavour });
    steps.push('POST 202 → poll → 303 → output');

    // DELETE of a finished job removes it.
    assert.equal((await fetch(`${origin}${location}`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${origin}${location}`)).status, 404);
    steps.push('DELETE 204 → 404');

    // Schema-invalid input: 422 problem+json, nothing stored.
    const invalid = await fetch(`${origin}/jobs/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 42 }),
    });
    assert.equal(invalid.status, 422);
    assert.match(invalid.headers.get('content-type'), /^application\/problem\+json/);
    const openapi = await (await fetch(`${origin}/jobs/openapi.json`)).json();
    assert.match(openapi.openapi, /^3\.1/);
    assert.ok(Object.keys(openapi.paths).some((path) => path.startsWith('/echo')));
    steps.push('422 problem+json, OpenAPI 3.1');

    // The same core instance everywhere: errors thrown by @jobs/memory are @jobs/core's classes.
    await assert.rejects(
      repository.list({ endpoint: 'echo', owner: null, limit: 10, cursor: 'not a cursor' }),
      core.InvalidInputError,
    );

    // The typed client of @jobs/client.
    const jobs = client.createJobsClient({ baseUrl: `${origin}/jobs` });
    const result = await jobs.endpoint(echo).run({ text: 'client' });
    assert.deepEqual(result, { text: 'CLIENT', attempt: 1, flavour });
    steps.push('@jobs/client run()');

    // The `jobs-client` command installed by @jobs/client (its bin), in a child process.
    const command = join(process.cwd(), 'node_modules', '.bin', 'jobs-client');
    const { stdout } = await run(command, ['submit', `${origin}/jobs/echo`, '{"text":"cli"}', '--wait'], {
      timeout: 60_000,
    });
    assert.deepEqual(JSON.parse(stdout), { text: 'CLI', attempt: 1, flavour });
    steps.push('`jobs-client submit --wait` (bin)');

    // The same bin through `npx @jobs/client` (--no: the installed package, never the registry's), following
    // a job as JSON lines: one per change, the last one final.
    const queued = JSON.parse(
      (await run(command, ['submit', `${origin}/jobs/echo`, '{"text":"npx"}'])).stdout,
    );
    const followed = await run('npx', ['--no', '@jobs/client', 'wait', queued.links.self, '--json'], {
      timeout: 60_000,
    });
    const lines = followed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(lines.at(-1).job.status, 'succeeded');
    assert.ok(lines.every((line) => line.job.id === queued.id));
    steps.push('`npx @jobs/client wait --json`');

    // The dashboard: refused without the hook's token; with it, its page, its script and its API (a retry).
    assert.equal((await fetch(`${origin}/dashboard`)).status, 403);
    const auth = { authorization: 'Bearer install-test' };
    const page = await fetch(`${origin}/dashboard`, { headers: auth });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /assets\/dashboard\.js/);
    const script = await fetch(`${origin}/dashboard/assets/dashboard.js`, { headers: auth });
    assert.ok((await script.text()).length > 1_000);
    const overview = await (await fetch(`${origin}/dashboard/api/overview`, { headers: auth })).json();
    assert.ok(overview.endpoints.some((entry) => entry.endpoint === 'echo' && entry.counts.succeeded >= 1));
    const canceled = await runtime.service.submit('echo', { text: 'later' }, { delayMs: 60_000 });
    await runtime.service.delete('echo', canceled.job.id);
    const retried = await fetch(`${origin}/dashboard/api/jobs/${canceled.job.id}/retry`, {
      method: 'POST',
      headers: { ...auth, 'x-jobs-dashboard': '1' },
    });
    assert.equal(retried.status, 202);
    assert.equal((await retried.json()).job.status, 'queued');
    steps.push('@jobs/dashboard page, script, overview, retry');
  } finally {
    shutdown.abort();
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections?.();
    await runtime.stop({ timeoutMs: 5_000 });
    await closed;
    await queue.close();
    await repository.close();
  }
  return steps;
};
