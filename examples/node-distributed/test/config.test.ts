import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_AMQP_URL,
  DEFAULT_DATABASE_URL,
  readApiConfig,
  readWorkerConfig,
} from '../src/config.js';

describe('configuration from the environment', () => {
  it('has local defaults', () => {
    expect(readApiConfig({}, 42)).toEqual({
      name: 'api-42',
      databaseUrl: DEFAULT_DATABASE_URL,
      amqpUrl: DEFAULT_AMQP_URL,
      schema: 'jobs',
      prefix: 'jobs',
      poolMax: 10,
      shutdownTimeoutMs: 10_000,
      dispatchPollMs: 1_000,
      executionLog: null,
      logLevel: 'info',
      logFormat: 'text',
      host: '127.0.0.1',
      port: 3000,
      waitPollMs: 1_000,
      maxWaitSeconds: 60,
      dashboardToken: null,
    });
    expect(readWorkerConfig({}, 7)).toMatchObject({
      name: 'worker-7',
      concurrency: null,
      leaseMs: 30_000,
      heartbeatIntervalMs: null,
      sweepIntervalMs: 5_000,
      cleanupTimeoutMs: 30_000,
      redispatchAfterMs: 300_000,
    });
  });

  it('reads every variable', () => {
    const env = {
      DATABASE_URL: 'postgresql://u:p@db:5433/jobs',
      AMQP_URL: 'amqps://u:p@mq/vhost',
      JOBS_SCHEMA: 'tenant_a',
      JOBS_PREFIX: 'tenant-a',
      PORT: '0',
      HOST: '0.0.0.0',
      DASHBOARD_TOKEN: ' a-long-enough-operator-token ',
      CONCURRENCY: '12',
      LEASE_MS: '3000',
      HEARTBEAT_MS: '1000',
      SHUTDOWN_TIMEOUT_MS: '0',
      EXECUTION_LOG: '/tmp/x.jsonl',
      PROCESS_NAME: 'worker-2',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
    };
    expect(readApiConfig(env)).toMatchObject({
      dashboardToken: 'a-long-enough-operator-token',
      port: 0,
      host: '0.0.0.0',
      schema: 'tenant_a',
      prefix: 'tenant-a',
    });
    expect(readWorkerConfig(env)).toMatchObject({
      name: 'worker-2',
      databaseUrl: env.DATABASE_URL,
      amqpUrl: env.AMQP_URL,
      concurrency: 12,
      leaseMs: 3_000,
      heartbeatIntervalMs: 1_000,
      shutdownTimeoutMs: 0,
      executionLog: '/tmp/x.jsonl',
      logLevel: 'warn',
      logFormat: 'json',
    });
  });

  it.each([
    [{ PORT: '70000' }, /PORT must be from 0 to 65535/],
    [{ DASHBOARD_TOKEN: 'short' }, /DASHBOARD_TOKEN must be at least 16 characters/],
    [{ PORT: '30a' }, /PORT must be a whole number/],
    [{ JOBS_SCHEMA: 'Bad-Name' }, /JOBS_SCHEMA/],
    [{ JOBS_SCHEMA: 'pg_catalog' }, /JOBS_SCHEMA/],
    [{ JOBS_PREFIX: 'a b' }, /JOBS_PREFIX/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL must start with postgres:\/\//],
    [{ AMQP_URL: 'not a url' }, /AMQP_URL is not a URL/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ LOG_FORMAT: 'xml' }, /LOG_FORMAT must be text or json/],
    [{ PROCESS_NAME: 'a/b' }, /PROCESS_NAME/],
  ])('refuses %j', (env, message) => {
    expect(() => readApiConfig(env)).toThrow(ConfigError);
    expect(() => readApiConfig(env)).toThrow(message);
  });

  it('refuses worker settings that cannot work', () => {
    expect(() => readWorkerConfig({ LEASE_MS: '1000', HEARTBEAT_MS: '1000' })).toThrow(
      /HEARTBEAT_MS must be shorter/,
    );
    expect(() => readWorkerConfig({ CONCURRENCY: '0' })).toThrow(/CONCURRENCY must be from 1/);
  });
});
