import { packageTests } from '../vitest.shared';

// The smoke test's child processes each hold PostgreSQL connections: at most 3 concurrent tests.
export default packageTests('bench', { maxConcurrency: 3 });
