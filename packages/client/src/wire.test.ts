import { describe, expect, it } from 'vitest';
import { parseAppliedWait, parseJob, parseRetryAfter, structuredFieldString } from './wire.js';

const base = {
  id: 'abc',
  endpoint: 'ping',
  status: 'running',
  createdAt: '2025-01-02T03:04:05.678Z',
  updatedAt: '2025-01-02T03:04:06.000Z',
  startedAt: '2025-01-02T03:04:05.900Z',
  finishedAt: null,
  expiresAt: null,
  estimatedCompletionAt: '2025-01-02T03:05:00.000Z',
  runAt: '2025-01-02T03:04:05.800Z',
  priority: -3,
  attempt: 1,
  maxAttempts: 3,
  progress: { fraction: 0.25, message: 'a quarter' },
  error: null,
  cancelRequested: false,
  links: { self: '/jobs/ping/abc', events: '/jobs/ping/abc/events' },
};

describe('parseJob', () => {
  it('turns ISO strings into dates and resolves links against the response URL', () => {
    const job = parseJob(base, 'https://api.example.com/jobs/ping/abc');
    expect(job.createdAt).toEqual(new Date('2025-01-02T03:04:05.678Z'));
    expect(job.startedAt).toEqual(new Date('2025-01-02T03:04:05.900Z'));
    expect(job.finishedAt).toBeNull();
    expect(job.estimatedCompletionAt).toEqual(new Date('2025-01-02T03:05:00.000Z'));
    expect(job.progress).toEqual({ fraction: 0.25, message: 'a quarter' });
    expect(job.links).toEqual({
      self: 'https://api.example.com/jobs/ping/abc',
      events: 'https://api.example.com/jobs/ping/abc/events',
    });
  });

  it('keeps the output link of a succeeded job and the error problem of a failed one', () => {
    const succeeded = parseJob(
      { ...base, status: 'succeeded', links: { ...base.links, output: '/jobs/ping/abc/output' } },
      'http://h/',
    );
    expect(succeeded.links.output).toBe('http://h/jobs/ping/abc/output');
    const failed = parseJob(
      {
        ...base,
        status: 'failed',
        error: { type: 't', title: 'Job failed', code: 'job_failed', reason: 'x' },
      },
      'http://h/',
    );
    expect(failed.error).toEqual({ type: 't', title: 'Job failed', code: 'job_failed', reason: 'x' });
  });

  it('reads runAt and priority; from a server that sends neither, runAt is createdAt and priority 0', () => {
    const job = parseJob(base, 'http://h/');
    expect(job.runAt).toEqual(new Date('2025-01-02T03:04:05.800Z'));
    expect(job.priority).toBe(-3);
    const { runAt: _runAt, priority: _priority, ...older } = base;
    const old = parseJob(older, 'http://h/');
    expect(old.runAt).toEqual(old.createdAt);
    expect(old.priority).toBe(0);
    expect(() => parseJob({ ...base, runAt: 'soon' }, 'http://h/')).toThrow(/runAt/);
    expect(() => parseJob({ ...base, priority: 'high' }, 'http://h/')).toThrow(/priority/);
  });

  it('rejects what is not a job representation', () => {
    expect(() => parseJob([], 'http://h/')).toThrow(/not an object/);
    expect(() => parseJob({ ...base, status: 'paused' }, 'http://h/')).toThrow(/unknown job status/);
    expect(() => parseJob({ ...base, createdAt: 'yesterday' }, 'http://h/')).toThrow(/createdAt/);
    expect(() => parseJob({ ...base, attempt: '1' }, 'http://h/')).toThrow(/attempt/);
    expect(() => parseJob({ ...base, progress: { fraction: 'half' } }, 'http://h/')).toThrow(/progress/);
  });
});

describe('headers', () => {
  it('reads Retry-After as seconds or as an HTTP-date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('5', now)).toBe(5);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-3', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('reads the honoured wait from Preference-Applied', () => {
    expect(parseAppliedWait('wait=30')).toBe(30);
    expect(parseAppliedWait('respond-async, wait="10"')).toBe(10);
    expect(parseAppliedWait('return=minimal')).toBeNull();
    expect(parseAppliedWait(null)).toBeNull();
  });

  it('serializes an Idempotency-Key as a structured-field string', () => {
    expect(structuredFieldString('abc-123')).toBe('"abc-123"');
    expect(structuredFieldString('say "hi" \\o/')).toBe('"say \\"hi\\" \\\\o/"');
    expect(() => structuredFieldString('clé')).toThrow(TypeError);
    expect(() => structuredFieldString('line\nbreak')).toThrow(TypeError);
  });
});
