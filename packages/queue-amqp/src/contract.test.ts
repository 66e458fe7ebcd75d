import { describeJobQueueContract } from '@jobs/testing';
import { afterAll, beforeAll } from 'vitest';
import { createAmqpQueue } from './index.js';
import type { AmqpJobQueue } from './queue.js';
import { Admin, AMQP_URL, randomName, recordingLogger } from './test-support.js';

let admin: Admin;
beforeAll(async () => {
  admin = await Admin.open();
});
afterAll(async () => {
  await admin?.close();
});

describeJobQueueContract(
  'amqp',
  () => createAmqpQueue({ url: AMQP_URL, prefix: randomName('t'), logger: recordingLogger() }),
  {
    cleanup: async (queue, endpoints) => {
      await admin.deleteTopology((queue as AmqpJobQueue).prefix, endpoints);
    },
  },
);
