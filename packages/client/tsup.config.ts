import { packageBuild } from '../../tsup.config.base';

// The library (any runtime) and the `jobs` command line client (Node only; not exported, used through `bin`).
export default packageBuild({ entry: ['src/index.ts', 'src/cli.ts'] });
