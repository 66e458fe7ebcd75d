import { fileURLToPath } from 'node:url';
import { exampleSuite, installedBinary } from './example-process.js';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));

// The same command as `pnpm start`, with the bun binary of this folder's node_modules.
exampleSuite('Bun', exampleDir, () => ({
  binary: installedBinary(exampleDir, 'bun', 'bin/bun.exe'),
  args: ['--tsconfig-override=tsconfig.json', 'src/main.ts'],
}));
