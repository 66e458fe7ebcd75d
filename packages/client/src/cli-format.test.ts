// The `jobs-client` command's progress line and reporters, on jobs and clocks the test makes up.
import { describe, expect, it } from 'vitest';
import {
  describeJob,
  displayWidth,
  finalLine,
  formatDuration,
  liveLine,
  plainLine,
  progressBar,
  sanitize,
  truncate,
} from './cli-format.js';
import { createReporter, interruptText, shellWord, type Terminal } from './cli-report.js';
import { type Job, parseJob } from './wire.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

function job(fields: Record<string, unknown> = {}): Job {
  return parseJob(
    {
      id: 'j1',
      endpoint: 'compress',
      status: 'running',
      createdAt: at(0),
      updatedAt: at(1),
      startedAt: at(1),
      attempt: 1,
      maxAttempts: 1,
      links: { self: 'http://x.test/jobs/compress/j1' },
      ...fields,
    },
    'http://x.test/jobs/compress/j1',
  );
}

describe('the parts of the line', () => {
  it('formats durations as m:ss, or h:mm:ss from an hour on', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(61_999)).toBe('1:01');
    expect(formatDuration(3_661_000)).toBe('1:01:01');
    expect(formatDuration(-5_000)).toBe('0:00');
  });

  it('draws a bar of the given width, the fraction clamped to 0..1', () => {
    expect(progressBar(0.4, 10)).toBe('████░░░░░░');
    expect(progressBar(1.7, 4)).toBe('████');
    expect(progressBar(Number.NaN, 4)).toBe('░░░░');
  });

  it("makes a worker's message safe for one terminal line", () => {
    expect(sanitize('\x1b[31mred\x1b[0m\nnext\tline\r')).toBe('red next line');
    expect(sanitize('a\u202eb\u2066c\x07d')).toBe('a b c d');
    expect(sanitize('x'.repeat(10_000))).toHaveLength(500);
  });

  it('measures wide characters as two cells and cuts to a width with an ellipsis', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('日本')).toBe(4);
    expect(displayWidth('█░')).toBe(2);
    expect(truncate('abcdef', 6)).toBe('abcdef');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('日本語です', 6)).toBe('日本…');
  });
});

describe('describeJob', () => {
  it('shows a running job: progress, message, elapsed time and the ETA from estimatedCompletionAt', () => {
    const running = job({
      progress: { fraction: 0.4, message: 'step 2 of 5' },
      estimatedCompletionAt: at(10),
    });
    const line = describeJob(running, T0 + 4_000);
    expect(line).toEqual({
      status: 'running',
      fraction: 0.4,
      message: 'step 2 of 5',
      time: 'elapsed 0:04',
      eta: 'ETA 0:06',
    });
    expect(plainLine(line)).toBe('running 40% · step 2 of 5 · elapsed 0:04 · ETA 0:06');
    expect(liveLine(line, 100)).toBe(
      'running [██████████░░░░░░░░░░░░░░░]  40% · step 2 of 5 · elapsed 0:04 · ETA 0:06',
    );
    expect(describeJob(running, T0 + 9_200).eta).toBe('ETA 0:01');
    expect(describeJob(running, T0 + 10_000).eta).toBe('ETA now');
    expect(describeJob(job({ cancelRequested: true }), T0).status).toBe('canceling');
  });

  it('shows a final job with its total time; a failed one with why', () => {
    const done = job({ status: 'succeeded', finishedAt: at(7), estimatedCompletionAt: at(7) });
    expect(plainLine(describeJob(done, T0 + 60_000))).toBe('succeeded 100% · in 0:07');
    const failed = job({
      status: 'failed',
      finishedAt: at(3),
      progress: { fraction: 0.25 },
      error: { type: 'about:blank', title: 'Job failed', code: 'job_failed', detail: 'disk \x1b[2Jfull' },
    });
    expect(finalLine(describeJob(failed, T0), 80)).toBe(
      'failed [█████░░░░░░░░░░░░░░░]  25% · disk full · after 0:03',
    );
  });
});

describe('liveLine', () => {
  it('never exceeds the width: cuts the message first, then leaves it out, then the ETA', () => {
    const messages = [
      '',
      'short',
      'a rather long message about what the worker does right now',
      '日本語のメッセージ'.repeat(5),
    ];
    for (const message of messages) {
      const line = describeJob(
        job({ progress: { fraction: 0.5, message }, estimatedCompletionAt: at(3_700) }),
        T0 + 2_000,
      );
      for (let width = 20; width <= 140; width++) {
        expect(displayWidth(liveLine(line, width)), `${width}: ${message}`).toBeLessThanOrEqual(width);
      }
    }
    const line = describeJob(
      job({ progress: { fraction: 0.5, message: 'message' }, estimatedCompletionAt: at(9) }),
      T0,
    );
    expect(liveLine(line, 80)).toBe(
      'running [██████████░░░░░░░░░░]  50% · message · elapsed 0:00 · ETA 0:09',
    );
    expect(liveLine(line, 56)).toBe('running [███████░░░░░░░]  50% · elapsed 0:00 · ETA 0:09');
    expect(liveLine(line, 50)).toBe('running [██████░░░░░░]  50% · elapsed 0:00');
  });
});

/** A terminal that records what is written to it. */
function fakeTerminal(isTTY: boolean) {
  const written = { stdout: '', stderr: '' };
  let now = T0;
  const terminal: Terminal = {
    stdout: {
      isTTY,
      columns: 80,
      write: (text: string) => {
        written.stdout += text;
      },
    },
    stderr: {
      write: (text: string) => {
        written.stderr += text;
      },
    },
    now: () => now,
  };
  const tick = (ms: number) => {
    now += ms;
  };
  return { terminal, written, tick };
}

describe('reporters', () => {
  const url = 'http://x.test/jobs/compress/j1';
  const change = (fields: Record<string, unknown>) => ({ type: 'progress', id: '1', job: job(fields) });

  it('on a terminal redraws one line in place, hides the cursor meanwhile, ends with the final line', () => {
    const { terminal, written, tick } = fakeTerminal(true);
    const reporter = createReporter(terminal, { json: false, quiet: false });
    reporter.begin(url);
    expect(written.stdout).toBe(`job ${url}\n\x1b[?25l`);
    reporter.change(change({ progress: { fraction: 0.5, message: 'half' } }));
    reporter.change(change({ progress: { fraction: 0.5, message: 'half' } }));
    tick(1000);
    reporter.change(change({ progress: { fraction: 0.5, message: 'half' } }));
    const done = job({ status: 'succeeded', finishedAt: at(2) });
    reporter.end(done);
    reporter.stop();
    const redraws = written.stdout.split('\r').slice(1);
    expect(redraws).toEqual([
      'running [██████████░░░░░░░░░]  50% · half · elapsed 0:00\x1b[K',
      'running [██████████░░░░░░░░░]  50% · half · elapsed 0:01\x1b[K',
      'succeeded [███████████████████] 100% · in 0:02\x1b[K\n\x1b[?25h',
    ]);
    expect(written.stderr).toBe('');
  });

  it('off a terminal writes a line per change to stderr; --json writes JSON lines to stdout', () => {
    const plain = fakeTerminal(false);
    const reporter = createReporter(plain.terminal, { json: false, quiet: false });
    reporter.begin(url);
    reporter.change(change({ status: 'queued', startedAt: null }));
    reporter.change(change({ status: 'queued', startedAt: null }));
    reporter.change(change({ progress: { fraction: 0.25 } }));
    expect(plain.written).toEqual({
      stdout: '',
      stderr: `job ${url}\nqueued 0% · elapsed 0:00\nrunning 25% · elapsed 0:00\n`,
    });

    const json = fakeTerminal(true);
    const jsonReporter = createReporter(json.terminal, { json: true, quiet: false });
    jsonReporter.begin(url);
    jsonReporter.change(change({}));
    expect(JSON.parse(json.written.stdout)).toMatchObject({ type: 'progress', id: '1', job: { id: 'j1' } });
    jsonReporter.interrupted({ url, invocation: 'jobs-client', outcome: 'cancel_requested', headers: false });
    expect(JSON.parse(json.written.stderr)).toEqual({
      error: 'interrupted',
      job: url,
      outcome: 'cancel_requested',
    });
  });

  it('after Ctrl-C says how to wait again or cancel, with words a shell takes as they are', () => {
    const text = interruptText({
      url: "http://x.test/a b'c",
      invocation: 'npx @jobs/client',
      outcome: null,
      headers: true,
    });
    expect(text).toBe(
      [
        'Stopped waiting; the job goes on (it was not canceled).',
        "  job:         http://x.test/a b'c",
        `  wait again:  npx @jobs/client wait 'http://x.test/a b'\\''c' (with your -H options)`,
        `  cancel it:   npx @jobs/client cancel 'http://x.test/a b'\\''c' (with your -H options)`,
        '',
      ].join('\n'),
    );
    expect(shellWord('http://x.test:3000/jobs/ping/0f-1')).toBe('http://x.test:3000/jobs/ping/0f-1');
  });
});
