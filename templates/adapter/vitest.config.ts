import { packageTests } from '../../vitest.shared';

// Use the package's directory name, as `npx vitest run --project <dir>` expects.
export default packageTests('adapter-template');
