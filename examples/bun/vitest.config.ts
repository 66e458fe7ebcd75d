import { packageTests } from '../../vitest.shared';

export default packageTests('bun', { testTimeout: 60_000, hookTimeout: 60_000 });
