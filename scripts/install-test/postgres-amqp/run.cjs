// CommonJS consumer: require() resolves the packages' "require" condition (dist/index.cjs).
const assert = require('node:assert/strict');
const core = require('@jobs/core');
const amqp = require('@jobs/queue-amqp');
const postgres = require('@jobs/repo-postgres');
const amqplib = require('amqplib');
const pg = require('pg');
const { z } = require('zod');
const { scenario } = require('./scenario.cjs');

for (const name of ['@jobs/core', '@jobs/repo-postgres', '@jobs/queue-amqp']) {
  assert.match(require.resolve(name), /\/dist\/index\.cjs$/, `${name} should load its CJS build`);
}
assert.equal(typeof core.createJobsRuntime, 'function');
assert.equal(typeof amqp.createAmqpQueue, 'function');
assert.equal(typeof postgres.createPostgresRepository, 'function');

scenario({ flavour: 'cjs', core, postgres, amqp, pg, amqplib, z }).then(
  (steps) => console.log(`repo-postgres + queue-amqp (CJS): ${steps.join('; ')}`),
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
