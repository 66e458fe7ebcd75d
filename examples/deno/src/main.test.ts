import { fileURLToPath } from 'node:url';
import {
  checkReference,
  type ExampleProcess,
  installedBinary,
  killIfRunning,
  runOneJob,
  startExample,
  stopWithSigint,
} from '@jobs/example-bun/src/example-process.ts';
import { afterEach, describe, expect, it } from 'vitest';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
let example: ExampleProcess | null = null;

afterEach(() => {
  killIfRunning(example);
  example = null;
});

describe('examples/deno', () => {
  it('serves the API on Deno, runs a job POST → 202 → 303 → output → DELETE, serves the reference, and stops cleanly on SIGINT', async () => {
    const deno = installedBinary(exampleDir, 'deno', 'deno');
    // The same command as `pnpm start`.
    example = await startExample(
      deno,
      ['run', '--allow-net', '--allow-env=PORT,HOST', 'src/main.ts'],
      exampleDir,
    );
    expect(example.output()).toMatch(/jobs quick start on Deno \d+\.\d+\.\d+ \(in-memory\) is listening on/);

    await runOneJob(example.origin);
    await checkReference(example.origin);

    await stopWithSigint(example);
  });
});
