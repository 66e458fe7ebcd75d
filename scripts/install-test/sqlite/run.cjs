// CommonJS consumer: require() resolves the packages' "require" condition (dist/index.cjs).
const assert = require('node:assert/strict');
const core = require('@jobs/core');
const memory = require('@jobs/memory');
const sqlite = require('@jobs/repo-sqlite');
const { z } = require('zod');
const { scenario } = require('./scenario.cjs');

for (const name of ['@jobs/core', '@jobs/memory', '@jobs/repo-sqlite']) {
  assert.match(require.resolve(name), /\/dist\/index\.cjs$/, `${name} should load its CJS build`);
}
assert.equal(typeof sqlite.createSqliteRepository, 'function');

scenario({ flavour: 'cjs', core, memory, sqlite, z }).then(
  (steps) => console.log(`repo-sqlite + memory queue (CJS): ${steps.join('; ')}`),
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
