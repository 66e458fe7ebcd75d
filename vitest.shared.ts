import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

const packages = [
  'core',
  'memory',
  'testing',
  'http-hono',
  'repo-postgres',
  'repo-sqlite',
  'queue-amqp',
  'client',
  'dashboard',
];

/** Tests import the workspace packages from source, so they never run against a stale build. */
export const workspaceAlias = Object.fromEntries([
  // Subpath entries first: an alias also matches the paths under its name.
  ['@jobs/testing/telemetry', fileURLToPath(new URL('./packages/testing/src/telemetry.ts', import.meta.url))],
  ...packages.map((dir) => [
    `@jobs/${dir}`,
    fileURLToPath(new URL(`./packages/${dir}/src/index.ts`, import.meta.url)),
  ]),
]);

/**
 * Tests that disturb shared servers (stopping PostgreSQL or RabbitMQ, closing every broker connection) are
 * named `*.faults.test.ts`. `pnpm test` runs them in a second pass, one file at a time, after everything else
 * (JOBS_TEST_FAULTS=1); the first pass leaves them out.
 */
const faultsPass = process.env.JOBS_TEST_FAULTS === '1';

export function packageTests(name: string, test: Record<string, unknown> = {}) {
  return defineProject({
    resolve: { alias: workspaceAlias },
    test: {
      name,
      include: faultsPass
        ? ['src/**/*.faults.test.ts', 'test/**/*.faults.test.ts']
        : ['src/**/*.test.ts', 'test/**/*.test.ts'],
      exclude: faultsPass ? ['**/node_modules/**'] : ['**/node_modules/**', '**/*.faults.test.ts'],
      // Tests over real sockets, servers and processes share two cores with the rest of the run: vitest's 5 s
      // default fails them when the machine is busy, not when they are wrong.
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...test,
    },
  });
}
