// Run by the install test after everything else, whatever happened: drops the schemas and deletes the queues
// named in JOBS_INSTALL_TEST_CLEANUP (JSON: [{ schema, prefix }]), which may already be gone.
const amqplib = require('amqplib');
const pg = require('pg');
const { cleanup, endpoints } = require('./scenario.cjs');

const runs = JSON.parse(process.env.JOBS_INSTALL_TEST_CLEANUP ?? '[]');
(async () => {
  for (const run of runs) await cleanup({ pg, amqplib }, { ...run, endpoints });
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
