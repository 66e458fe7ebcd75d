import { packageTests } from '../../vitest.shared';

// The tests talk to a real RabbitMQ and use rabbitmqctl (about a second per call): generous timeouts.
export default packageTests('queue-amqp', { testTimeout: 60_000, hookTimeout: 60_000 });
