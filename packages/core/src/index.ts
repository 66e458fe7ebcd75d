export * from './types.js';
export * from './errors.js';
export * from './endpoint.js';
export * from './repository.js';
export * from './queue.js';
export * from './worker.js';
export * from './util.js';
