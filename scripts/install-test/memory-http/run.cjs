// CommonJS consumer: require() resolves the packages' "require" condition (dist/index.cjs).
const assert = require('node:assert/strict');
const { serve } = require('@hono/node-server');
const client = require('@jobs/client');
const core = require('@jobs/core');
const dashboard = require('@jobs/dashboard');
const http = require('@jobs/http-hono');
const memory = require('@jobs/memory');
const { Hono } = require('hono');
const { z } = require('zod');
const { scenario } = require('./scenario.cjs');

for (const name of ['@jobs/core', '@jobs/memory', '@jobs/http-hono', '@jobs/client', '@jobs/dashboard']) {
  assert.match(require.resolve(name), /\/dist\/index\.cjs$/, `${name} should load its CJS build`);
}
const { createJobsRuntime, defineEndpoint, implement } = core;
assert.equal(typeof createJobsRuntime, 'function');
assert.equal(typeof defineEndpoint, 'function');
assert.equal(typeof implement, 'function');
assert.equal(typeof http.createJobsApp, 'function');

scenario({
  flavour: 'cjs',
  core,
  memory,
  http,
  client,
  dashboard,
  hono: { Hono },
  nodeServer: { serve },
  z,
}).then(
  (steps) => console.log(`memory + http-hono (CJS): ${steps.join('; ')}`),
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
