import type { JobHeader } from '@jobs/core';
import { describe, expect, it } from 'vitest';
import { jobETag } from './representation.js';

const base: JobHeader = {
  id: '2d3628a8-b914-4d04-a4f8-cfc2a19408b9',
  endpoint: 'task',
  status: 'running',
  createdAt: new Date(1_767_607_200_000),
  updatedAt: new Date(1_767_607_201_250),
  startedAt: new Date(1_767_607_200_010),
  finishedAt: null,
  expiresAt: null,
  estimatedCompletionAt: null,
  runAt: new Date(1_767_607_200_000),
  priority: 0,
  attempt: 1,
  maxAttempts: 2,
  progress: { fraction: 0.5, message: 'half' },
  error: null,
  cancelRequested: false,
};

describe('jobETag', () => {
  it('is a strong tag of the update time and a fingerprint, equal for equal states', () => {
    const tag = jobETag(base);
    expect(tag).toMatch(/^"1767607201250-[0-9a-z]+"$/);
    expect(jobETag({ ...base, progress: { fraction: 0.5, message: 'half' } })).toBe(tag);
  });

  it('differs for two states with the same updatedAt (changes within one millisecond)', () => {
    const variants: JobHeader[] = [
      { ...base, status: 'succeeded', finishedAt: base.updatedAt },
      { ...base, progress: { fraction: 0.75, message: 'half' } },
      { ...base, progress: { fraction: 0.5 } },
      { ...base, progress: null },
      { ...base, cancelRequested: true },
      { ...base, attempt: 2 },
      { ...base, estimatedCompletionAt: new Date(1_767_607_209_000) },
      { ...base, runAt: new Date(1_767_607_260_000) },
      { ...base, priority: 5 },
      { ...base, error: { type: 'about:blank', title: 'Failed', code: 'job_failed' } },
      { ...base, id: '2d3628a8-b914-4d04-a4f8-cfc2a19408ba' },
    ];
    const tags = new Set([jobETag(base), ...variants.map(jobETag)]);
    expect(tags.size).toBe(variants.length + 1);
    for (const tag of tags) expect(tag.startsWith('"1767607201250-')).toBe(true);
  });

  it('changes with updatedAt alone', () => {
    expect(jobETag({ ...base, updatedAt: new Date(1_767_607_201_251) })).not.toBe(jobETag(base));
  });
});
