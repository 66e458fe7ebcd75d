import { fileURLToPath } from 'node:url';
import { exampleSuite, installedBinary } from '@jobs/example-bun/src/example-process.ts';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));

// The same command as `pnpm start`, with the deno binary of this folder's node_modules.
exampleSuite('Deno', exampleDir, () => ({
  binary: installedBinary(exampleDir, 'deno', 'deno'),
  args: [
    'run',
    '--allow-net',
    '--allow-env=PORT,HOST,JOBS_MEMORY,JOBS_DATA_DIR',
    '--allow-read',
    '--allow-write',
    'src/main.ts',
  ],
}));
