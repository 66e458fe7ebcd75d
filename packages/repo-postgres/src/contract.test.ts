import { describeJobRepositoryContract, describeJobRepositoryModel } from '@jobs/testing';
import { afterAll, beforeAll } from 'vitest';
import { dropSchema, randomSchema, testRepository } from './test-support.js';

const schema = randomSchema('contract');

beforeAll(async () => {
  // Migrate once up front; every repository the suites create then finds the schema current.
  const repository = testRepository(schema);
  await repository.migrate();
  await repository.close();
});

afterAll(async () => {
  await dropSchema(schema);
});

describeJobRepositoryContract('postgres', () => testRepository(schema));
describeJobRepositoryModel('postgres', () => testRepository(schema), { numRuns: 30 });
