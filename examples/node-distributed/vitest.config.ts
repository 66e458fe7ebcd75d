import { packageTests } from '../../vitest.shared';

export default packageTests('node-distributed');
