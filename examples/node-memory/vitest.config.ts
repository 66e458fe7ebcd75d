import { packageTests } from '../../vitest.shared';

export default packageTests('node-memory', { testTimeout: 60_000, hookTimeout: 60_000 });
