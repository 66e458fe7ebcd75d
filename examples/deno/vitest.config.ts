import { packageTests } from '../../vitest.shared';

export default packageTests('deno', { testTimeout: 60_000, hookTimeout: 60_000 });
