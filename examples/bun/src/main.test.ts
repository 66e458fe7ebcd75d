import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkReference,
  type ExampleProcess,
  installedBinary,
  killIfRunning,
  runOneJob,
  startExample,
  stopWithSigint,
} from './example-process.js';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
let example: ExampleProcess | null = null;

afterEach(() => {
  killIfRunning(example);
  example = null;
});

describe('examples/bun', () => {
  it('serves the API on Bun, runs a job POST → 202 → 303 → output → DELETE, serves the reference, and stops cleanly on SIGINT', async () => {
    const bun = installedBinary(exampleDir, 'bun', 'bin/bun.exe');
    // The same command as `pnpm start`.
    example = await startExample(bun, ['--tsconfig-override=tsconfig.json', 'src/main.ts'], exampleDir);
    expect(example.output()).toMatch(/jobs quick start on Bun \d+\.\d+\.\d+ \(in-memory\) is listening on/);

    await runOneJob(example.origin);
    await checkReference(example.origin);

    await stopWithSigint(example);
  });
});
