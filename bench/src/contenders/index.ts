import type { Contender } from '../types.js';
import { bullmqContender } from './bullmq.js';
import { graphileWorkerContender } from './graphile-worker.js';
import { type JobsExperiments, jobsContender } from './jobs.js';
import { pgBossContender } from './pg-boss.js';

export { bullmqContender, graphileWorkerContender, jobsContender, pgBossContender };

/** Every contender, keyed by the id the command line takes (`--only jobs-amqp,pg-boss`). */
export function allContenders(experiments: JobsExperiments = {}): Map<string, Contender> {
  return new Map<string, Contender>([
    ['jobs-amqp', jobsContender('amqp', experiments)],
    ['jobs-http', jobsContender('http', experiments)],
    ['jobs-pg', jobsContender('pg-memory', experiments)],
    ['jobs-memory', jobsContender('memory', experiments)],
    ['pg-boss', pgBossContender()],
    ['graphile-worker', graphileWorkerContender()],
    ['bullmq', bullmqContender()],
  ]);
}
