export type { AmqpQueueEvent, AmqpQueueListener, ConnectionRole } from './events.js';
export type { AmqpQueueOptions, Names, ReconnectOptions } from './options.js';
export { DEFAULT_URL } from './options.js';
export type { AmqpDeadLetter, AmqpJobQueue, ConnectionStatus } from './queue.js';
export { createAmqpQueue } from './queue.js';
