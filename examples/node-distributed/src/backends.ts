import type { Logger } from '@jobs/core';
import { type AmqpJobQueue, createAmqpQueue } from '@jobs/queue-amqp';
import { createPostgresRepository, type PostgresJobRepository } from '@jobs/repo-postgres';
import type { CommonConfig } from './config.js';

export interface Backends {
  repository: PostgresJobRepository;
  queue: AmqpJobQueue;
  close(): Promise<void>;
}

/**
 * The shared PostgreSQL repository and RabbitMQ queue of one process. Connections carry the process name
 * (`application_name` in pg_stat_activity, `connection_name` in the RabbitMQ management views), so an
 * operator sees which process holds which connection.
 */
export async function openBackends(config: CommonConfig, logger: Logger): Promise<Backends> {
  const repository = createPostgresRepository({
    connectionString: config.databaseUrl,
    schema: config.schema,
    poolConfig: { max: config.poolMax, application_name: `jobs:${config.name}` },
    logger,
  });
  const queue = createAmqpQueue({
    url: config.amqpUrl,
    prefix: config.prefix,
    connectionName: `jobs:${config.name}`,
    logger,
  });
  // The adapter logs connection losses and recoveries itself; the events are there for metrics.
  queue.on('state', (event) => logger.debug(event, `amqp ${event.type}`));
  const close = async () => {
    await Promise.allSettled([queue.close(), repository.close()]);
  };
  try {
    // Eagerly, so a process that cannot reach its database fails at start rather than on its first request.
    // Many processes may run this at once: the migrations take an advisory lock.
    await repository.migrate();
  } catch (error) {
    await close();
    throw error;
  }
  return { repository, queue, close };
}
