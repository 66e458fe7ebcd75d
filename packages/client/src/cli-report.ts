// How the `jobs-client` command reports a job it waits for: a live line redrawn in place on a terminal, a line per
// change for logs, JSON lines, or nothing. And what it tells the user who pressed Ctrl-C.
import { describeJob, finalLine, liveLine, plainLine } from './cli-format.js';
import type { Job } from './wire.js';

/** A state of the job: an event of its stream (type, id), or a state a GET answered (id null). */
export interface JobChange {
  type: string;
  id: string | null;
  job: Job;
}

export interface Reporter {
  /** The job to follow is known. */
  begin(url: string): void;
  /** A new state of the job, the final one included. */
  change(change: JobChange): void;
  /** The job is final (after its last change). */
  end(job: Job): void;
  /** Stops drawing, leaving the last state shown (before an interrupt notice, an error or a timeout). */
  stop(): void;
  /** After Ctrl-C: the job goes on, or was canceled (`outcome`). */
  interrupted(notice: InterruptNotice): void;
}

export interface InterruptNotice {
  url: string;
  /** How the user runs this command (`jobs-client`, `pnpm jobs`, `npx @jobs/client`), for the commands shown. */
  invocation: string;
  /** The answer to the DELETE of --cancel-on-interrupt; null when the job was left running. */
  outcome: 'canceled' | 'cancel_requested' | 'removed' | null;
  /** Whether -H options were given (they are not repeated in the commands shown). */
  headers: boolean;
}

/** The streams and the clock the reporters use (process.stdout, process.stderr, Date.now in the CLI). */
export interface Terminal {
  stdout: Output;
  stderr: Output;
  now(): number;
}

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  on?(event: 'resize', listener: () => void): unknown;
  off?(event: 'resize', listener: () => void): unknown;
}

/** How often the live line is recomputed (it is written only when its text changed: about once a second). */
const TICK_MS = 200;
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const CLEAR_TO_END = '\x1b[K';

/** A live line on stdout on a terminal; else lines on stderr, JSON lines on stdout (`json`), or nothing (`quiet`). */
export function createReporter(terminal: Terminal, options: { json: boolean; quiet: boolean }): Reporter {
  if (options.json) return new JsonReporter(terminal);
  if (options.quiet) return new QuietReporter(terminal);
  const tty = terminal.stdout.isTTY === true && process.env.TERM !== 'dumb';
  return tty ? new LiveReporter(terminal) : new PlainReporter(terminal);
}

/** Text for the user who pressed Ctrl-C. */
export function interruptText(notice: InterruptNotice): string {
  const url = shellWord(notice.url);
  const options = notice.headers ? ' (with your -H options)' : '';
  switch (notice.outcome) {
    case null:
      return [
        'Stopped waiting; the job goes on (it was not canceled).',
        `  job:         ${notice.url}`,
        `  wait again:  ${notice.invocation} wait ${url}${options}`,
        `  cancel it:   ${notice.invocation} cancel ${url}${options}`,
        '',
      ].join('\n');
    case 'canceled':
      return `Canceled the job (it had not started): ${notice.url}\n`;
    case 'cancel_requested':
      return `Cancel requested: the job's worker was told to stop: ${notice.url}\n`;
    case 'removed':
      return `The job had already finished; the DELETE removed it: ${notice.url}\n`;
  }
}

/** `text` as one word for a POSIX shell: as it is when it needs no quotes, else in single quotes. */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

class LiveReporter implements Reporter {
  readonly #terminal: Terminal;
  #job: Job | null = null;
  #drawn = '';
  #timer: ReturnType<typeof setInterval> | null = null;
  readonly #redraw = () => this.#draw();

  constructor(terminal: Terminal) {
    this.#terminal = terminal;
  }

  begin(url: string): void {
    const { stdout } = this.#terminal;
    stdout.write(`job ${url}\n${HIDE_CURSOR}`);
    this.#timer = setInterval(this.#redraw, TICK_MS);
    this.#timer.unref?.();
    stdout.on?.('resize', this.#redraw);
  }

  change({ job }: JobChange): void {
    this.#job = job;
    this.#draw();
  }

  end(job: Job): void {
    if (!this.#release()) return;
    const text = finalLine(describeJob(job, this.#terminal.now()), this.#columns());
    this.#terminal.stdout.write(`\r${text}${CLEAR_TO_END}\n${SHOW_CURSOR}`);
  }

  stop(): void {
    if (!this.#release()) return;
    // Drawn again: the terminal may have echoed ^C after it.
    const text = this.#drawn ? `\r${this.#drawn}${CLEAR_TO_END}\n` : '';
    this.#terminal.stdout.write(`${text}${SHOW_CURSOR}`);
  }

  interrupted(notice: InterruptNotice): void {
    this.stop();
    // Under the line, where the user looks (stderr may go to a file).
    this.#terminal.stdout.write(interruptText(notice));
  }

  /** The line's width: the terminal's, less room for the `^C` a terminal echoes after it (it must not wrap). */
  #columns(): number {
    return Math.max(20, (this.#terminal.stdout.columns ?? 80) - 3);
  }

  #draw(): void {
    if (!this.#job || !this.#timer) return;
    const text = liveLine(describeJob(this.#job, this.#terminal.now()), this.#columns());
    if (text !== this.#drawn) this.#write(text);
  }

  #write(text: string): void {
    this.#drawn = text;
    this.#terminal.stdout.write(`\r${text}${CLEAR_TO_END}`);
  }

  /** Stops redrawing; false when it was already stopped. */
  #release(): boolean {
    if (!this.#timer) return false;
    clearInterval(this.#timer);
    this.#timer = null;
    this.#terminal.stdout.off?.('resize', this.#redraw);
    return true;
  }
}

class PlainReporter implements Reporter {
  protected readonly terminal: Terminal;
  #last = '';

  constructor(terminal: Terminal) {
    this.terminal = terminal;
  }

  begin(url: string): void {
    this.terminal.stderr.write(`job ${url}\n`);
  }

  change({ job }: JobChange): void {
    // A line per change of what it shows but the clock.
    const line = describeJob(job, this.terminal.now());
    const key = `${line.status}|${line.fraction}|${line.message}`;
    if (key === this.#last) return;
    this.#last = key;
    this.terminal.stderr.write(`${plainLine(line)}\n`);
  }

  end(): void {}

  stop(): void {}

  interrupted(notice: InterruptNotice): void {
    this.terminal.stderr.write(interruptText(notice));
  }
}

class JsonReporter implements Reporter {
  readonly #terminal: Terminal;

  constructor(terminal: Terminal) {
    this.#terminal = terminal;
  }

  begin(): void {}

  change(change: JobChange): void {
    this.#terminal.stdout.write(`${JSON.stringify(change)}\n`);
  }

  end(): void {}

  stop(): void {}

  interrupted(notice: InterruptNotice): void {
    const { url, invocation, outcome } = notice;
    const commands =
      outcome === null
        ? { wait: `${invocation} wait ${shellWord(url)}`, cancel: `${invocation} cancel ${shellWord(url)}` }
        : { outcome };
    this.#terminal.stderr.write(`${JSON.stringify({ error: 'interrupted', job: url, ...commands })}\n`);
  }
}

/** No progress; only the notice after Ctrl-C. */
class QuietReporter extends PlainReporter {
  override begin(): void {}
  override change(): void {}
}
