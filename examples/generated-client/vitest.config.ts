import { packageTests } from '../../vitest.shared';

export default packageTests('generated-client', { testTimeout: 60_000, hookTimeout: 60_000 });
