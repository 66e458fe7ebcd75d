// The node:sqlite driver (Node 22.13 or later, no native module): the same suites as contract.test.ts. `pnpm
// test:node-lts` runs this file under Node 22 and Node 24 (tools/node-lts/test.mjs); under an older Node (the
// workspace's Node 20) the driver must refuse with a message that says what to do, and that is what is tested.
import { createMemoryQueue } from '@jobs/memory';
import {
  describeJobRepositoryContract,
  describeJobRepositoryModel,
  describeJobRuntimeContract,
} from '@jobs/testing';
import { describe, expect, it } from 'vitest';
import { createSqliteRepository } from './index.js';
import { useTempFolder } from './test-support.js';

const file = useTempFolder();
const available = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.(
  'node:sqlite',
);
const silent = { debug() {}, info() {}, warn() {}, error() {} };

if (available) {
  const shared = file('node-sqlite.sqlite');
  const open = (now?: () => number) =>
    createSqliteRepository({ path: shared, driver: 'node:sqlite', ...(now ? { clock: now } : {}) });

  describe(`node:sqlite on Node ${process.versions.node}`, () => {
    it('opens the file in WAL mode and keeps jobs across a reopen', async () => {
      const first = open();
      const [created] = await first.create([
        {
          id: crypto.randomUUID(),
          endpoint: 'durable',
          input: { n: 1 },
          owner: null,
          idempotencyKey: null,
          inputHash: null,
          maxAttempts: 1,
        },
      ]);
      expect(created?.ok).toBe(true);
      const id = created?.ok ? created.value.job.id : '';
      await first.close();
      const second = open();
      expect(await second.get(id)).toMatchObject({ id, status: 'queued', input: { n: 1 } });
      await second.close();
    });
  });

  describeJobRepositoryContract('node:sqlite', ({ now }) => open(now), { controllableClock: true });
  describeJobRepositoryModel('node:sqlite', ({ now }) => open(now), { controllableClock: true, numRuns: 30 });
  describeJobRuntimeContract('node:sqlite + memory queue', () => ({
    repository: createSqliteRepository({
      path: file('runtime.sqlite'),
      driver: 'node:sqlite',
      logger: silent,
    }),
    queue: createMemoryQueue(),
  }));
} else {
  describe(`node:sqlite on Node ${process.versions.node} (not available: the full suites run under Node 22 and 24)`, () => {
    it('refuses with a message that names the Node version it needs', async () => {
      const repository = createSqliteRepository({ path: file('refused.sqlite'), driver: 'node:sqlite' });
      await expect(repository.open()).rejects.toThrow(/node:sqlite needs Node 22\.13 or later/);
      await expect(repository.get('any')).rejects.toThrow(/node:sqlite needs Node 22\.13 or later/);
      await repository.close();
    });
  });
}
