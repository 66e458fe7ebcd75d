// The `jobs-client` command on a real terminal: tmux runs it in a pseudo-terminal against the real stack, the test
// releases the job's steps and reads the screen (`tmux capture-pane`) as it changes, and types Ctrl-C.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type BuiltCli, buildCli } from './cli-test-support.js';
import { type Pane, Tmux } from './cli-tmux.js';
import { type JobsServer, startJobsServer, until } from './test-support.js';

vi.setConfig({ testTimeout: 30_000, hookTimeout: 60_000 });

const COLUMNS = 110;
let server: JobsServer;
let cli: BuiltCli;
let tmux: Tmux;

beforeAll(async () => {
  [cli, server, tmux] = await Promise.all([
    buildCli(),
    // A minute: the ETA shows while the test releases the steps.
    startJobsServer({ taskEstimateMs: 60_000 }),
    Tmux.start(COLUMNS, 30),
  ]);
});

afterAll(async () => {
  await tmux?.close();
  await server?.close();
  await cli?.remove();
});

let tags = 0;
const newTag = () => `tty${++tags}`;

/** `jobs submit <task> {tag, steps} --wait ...` in a new tmux window; resolves once the job's URL shows. */
async function submitInPane(tag: string, steps: number, ...options: string[]) {
  const input = JSON.stringify({ tag, steps });
  const pane = await tmux.open([
    process.execPath,
    cli.path,
    'submit',
    `${server.baseUrl}/task`,
    input,
    '--wait',
    ...options,
  ]);
  const screen = await pane.waitFor((text) => /^job \S+/m.test(text));
  const url = /^job (\S+)/m.exec(screen)![1]!;
  return { pane, url, id: url.split('/').at(-1)! };
}

/** The live line's bar: how many of its cells are full. */
function barCells(line: string): { full: number; width: number } {
  const [, full = '', empty = ''] = /\[(█*)(░*)\]/.exec(line) ?? [];
  return { full: full.length, width: full.length + empty.length };
}

const lastLine = (screen: string) => screen.split('\n').at(-1)!;

async function jobState(id: string) {
  const job = await server.runtime.service.get('task', id);
  return { status: job.status, cancelRequested: job.cancelRequested };
}

/** Resolves with the screen once the live line shows `percent`. */
const reaches = (pane: Pane, percent: number) =>
  pane.waitFor((screen) => new RegExp(`\\] +${percent}% · step`).test(lastLine(screen)));

describe('jobs on a terminal (tmux)', () => {
  it('submit --wait redraws one line as the job advances, then shows the final state and the output', async () => {
    const tag = newTag();
    const { pane, url } = await submitInPane(tag, 4);
    const first = await pane.waitFor((screen) => /^running \[░+\] +0% · elapsed \d:\d\d/m.test(screen));
    expect(first.split('\n')[0]).toBe(`job ${url}`);
    // The ETA of the worker's estimate (a minute), before any progress.
    expect(lastLine(first)).toMatch(/ · ETA (0:5\d|1:00)$/);
    const bars: number[] = [];
    for (const percent of [25, 50, 75]) {
      server.gates.release(tag);
      const screen = await reaches(pane, percent);
      const line = lastLine(screen);
      // Redrawn in place: the URL line and this one line, nothing scrolled.
      expect(screen.split('\n')).toHaveLength(2);
      expect(line).toMatch(
        new RegExp(
          `^running \\[[█░]+\\] +${percent}% · step ${percent / 25} of 4 · elapsed \\d:\\d\\d · ETA (\\d:\\d\\d|now)$`,
        ),
      );
      expect(line.length).toBeLessThan(COLUMNS);
      bars.push(barCells(line).full);
    }
    expect(bars[0]).toBeGreaterThan(0);
    expect(bars[1]).toBeGreaterThan(bars[0]!);
    expect(bars[2]).toBeGreaterThan(bars[1]!);
    server.gates.release(tag);
    expect(await pane.exitStatus()).toBe(0);
    const screen = await pane.screen();
    const lines = screen.split('\n');
    expect(lines[1]).toMatch(/^succeeded \[█+\] 100% · step 4 of 4 · in \d:\d\d$/);
    const output = lines.slice(2, lines.indexOf('}') + 1).join('\n');
    expect(JSON.parse(output)).toEqual({ tag, steps: 4 });
    // Every screen the test saw before the end had the URL and one line: the line was redrawn, never scrolled.
    const before = pane.frames.filter((frame) => !frame.includes('succeeded'));
    expect(before.length).toBeGreaterThanOrEqual(4);
    for (const frame of before) expect(frame.split('\n').length).toBeLessThanOrEqual(2);
  });

  it('wait <jobUrl> draws the line too, and ends with the failed state (exit 3)', async () => {
    const tag = newTag();
    const job = await (
      await fetch(`${server.baseUrl}/task`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tag, steps: 2, fail: true }),
      })
    ).json();
    const url = `${server.baseUrl}/task/${job.id}`;
    const pane = await tmux.open([process.execPath, cli.path, 'wait', url]);
    await pane.waitFor((screen) => /^running \[░+\] +0%/m.test(screen));
    server.gates.release(tag);
    await reaches(pane, 50);
    server.gates.release(tag);
    expect(await pane.exitStatus()).toBe(3);
    const lines = (await pane.screen()).split('\n');
    expect(lines[0]).toBe(`job ${url}`);
    expect(lines[1]).toMatch(/^failed \[[█░]+\] +\d+% · The task was told to fail\. · after \d:\d\d$/);
  });

  it('Ctrl-C prints the job URL and how to wait again or cancel, exits 130 and leaves the job running', async () => {
    const tag = newTag();
    const { pane, url, id } = await submitInPane(tag, 2);
    server.gates.release(tag);
    await reaches(pane, 50);
    await pane.sendKeys('C-c');
    expect(await pane.exitStatus()).toBe(130);
    const screen = await pane.screen();
    const lines = screen.split('\n');
    // The live line stays as it was (the echoed ^C overwritten), then the notice.
    expect(lines[1]).toMatch(/^running \[█+░+\] +50% · step 1 of 2 · elapsed \d:\d\d · ETA (\d:\d\d|now)$/);
    expect(lines.slice(2, 6)).toEqual([
      'Stopped waiting; the job goes on (it was not canceled).',
      `  job:         ${url}`,
      `  wait again:  jobs-client wait ${url}`,
      `  cancel it:   jobs-client cancel ${url}`,
    ]);
    expect(await jobState(id)).toEqual({ status: 'running', cancelRequested: false });

    // The command it printed waits again, from where the job is.
    const resumed = await tmux.open([process.execPath, cli.path, 'wait', url]);
    await resumed.waitFor((text) => / 50% · step 1 of 2/.test(text));
    server.gates.release(tag);
    expect(await resumed.exitStatus()).toBe(0);
    expect(await resumed.screen()).toMatch(/^succeeded \[█+\] 100% · step 2 of 2 · in \d:\d\d$/m);
  });

  it('with --cancel-on-interrupt, Ctrl-C cancels the job and exits 130 once the server accepted', async () => {
    const tag = newTag();
    const { pane, url, id } = await submitInPane(tag, 2, '--cancel-on-interrupt');
    server.gates.release(tag);
    await reaches(pane, 50);
    await pane.sendKeys('C-c');
    expect(await pane.exitStatus()).toBe(130);
    expect(await pane.screen()).toContain(`Cancel requested: the job's worker was told to stop: ${url}`);
    // The worker's step gives up on the abort; the job ends canceled.
    await until(async () => (await jobState(id)).status === 'canceled');
  });
});
