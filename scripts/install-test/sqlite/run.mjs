// ESM consumer: static named imports resolve the packages' "import" condition (dist/index.js).
import assert from 'node:assert/strict';
import * as core from '@jobs/core';
import * as memory from '@jobs/memory';
import * as sqlite from '@jobs/repo-sqlite';
import { createSqliteRepository } from '@jobs/repo-sqlite';
import { z } from 'zod';
import scenarioModule from './scenario.cjs';

for (const name of ['@jobs/core', '@jobs/memory', '@jobs/repo-sqlite']) {
  assert.match(import.meta.resolve(name), /\/dist\/index\.js$/, `${name} should load its ESM build`);
}
assert.equal(typeof createSqliteRepository, 'function');

const steps = await scenarioModule.scenario({ flavour: 'esm', core, memory, sqlite, z });
console.log(`repo-sqlite + memory queue (ESM): ${steps.join('; ')}`);
