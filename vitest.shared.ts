import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

const packages = ['core', 'memory', 'testing', 'http-hono', 'repo-postgres', 'queue-amqp', 'client'];

/** Tests import the workspace packages from source, so they never run against a stale build. */
export const workspaceAlias = Object.fromEntries(
  packages.map((dir) => [`@jobs/${dir}`, fileURLToPath(new URL(`./packages/${dir}/src/index.ts`, import.meta.url))]),
);

export function packageTests(name: string, test: Record<string, unknown> = {}) {
  return defineProject({
    resolve: { alias: workspaceAlias },
    test: { name, include: ['src/**/*.test.ts'], ...test },
  });
}
