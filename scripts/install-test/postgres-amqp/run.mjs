// ESM consumer: static named imports resolve the packages' "import" condition (dist/index.js).
import assert from 'node:assert/strict';
import * as core from '@jobs/core';
import { createJobsRuntime } from '@jobs/core';
import * as amqp from '@jobs/queue-amqp';
import { createAmqpQueue } from '@jobs/queue-amqp';
import * as postgres from '@jobs/repo-postgres';
import { createPostgresRepository } from '@jobs/repo-postgres';
import amqplib from 'amqplib';
import pg from 'pg';
import { z } from 'zod';
import scenarioModule from './scenario.cjs';

for (const name of ['@jobs/core', '@jobs/repo-postgres', '@jobs/queue-amqp']) {
  assert.match(import.meta.resolve(name), /\/dist\/index\.js$/, `${name} should load its ESM build`);
}
assert.equal(typeof createJobsRuntime, 'function');
assert.equal(typeof createAmqpQueue, 'function');
assert.equal(typeof createPostgresRepository, 'function');

const steps = await scenarioModule.scenario({ flavour: 'esm', core, postgres, amqp, pg, amqplib, z });
console.log(`repo-postgres + queue-amqp (ESM): ${steps.join('; ')}`);
