import { fileURLToPath } from 'node:url';
import { packageBuild } from '../../tsup.config.base';

// @jobs/core's types come from its sources, so that this package builds on its own (before core's dist
// exists); the declarations still import them from '@jobs/core', a peer dependency.
const core = fileURLToPath(new URL('../core/src/index.ts', import.meta.url));

// The library (any runtime) and the `jobs-client` command (Node only; not exported, used through `bin`).
export default packageBuild({
  entry: ['src/index.ts', 'src/cli.ts'],
  dts: { compilerOptions: { paths: { '@jobs/core': [core] } } },
});
