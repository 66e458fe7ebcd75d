// ESM consumer: static named imports resolve the packages' "import" condition (dist/index.js).
import assert from 'node:assert/strict';
import { serve } from '@hono/node-server';
import * as client from '@jobs/client';
import * as core from '@jobs/core';
import { createJobsRuntime, defineEndpoint, implement } from '@jobs/core';
import * as dashboard from '@jobs/dashboard';
import * as http from '@jobs/http-hono';
import { createJobsApp } from '@jobs/http-hono';
import * as memory from '@jobs/memory';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { Hono } from 'hono';
import { z } from 'zod';
import scenarioModule from './scenario.cjs';

for (const name of ['@jobs/core', '@jobs/memory', '@jobs/http-hono', '@jobs/client', '@jobs/dashboard']) {
  assert.match(import.meta.resolve(name), /\/dist\/index\.js$/, `${name} should load its ESM build`);
}
assert.equal(typeof createJobsRuntime, 'function');
assert.equal(typeof defineEndpoint, 'function');
assert.equal(typeof implement, 'function');
assert.equal(typeof createJobsApp, 'function');
assert.equal(typeof createMemoryQueue, 'function');
assert.equal(typeof createMemoryRepository, 'function');

const steps = await scenarioModule.scenario({
  flavour: 'esm',
  core,
  memory,
  http,
  client,
  dashboard,
  hono: { Hono },
  nodeServer: { serve },
  z,
});
console.log(`memory + http-hono (ESM): ${steps.join('; ')}`);
