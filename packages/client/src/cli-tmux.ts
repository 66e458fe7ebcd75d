// A real pseudo-terminal for tests of the `jobs-client` command (not part of the build): a tmux server of the test's
// own (its socket in a temporary directory, no configuration file) whose windows run commands; the screen is
// read with `tmux capture-pane`, keys are typed with `tmux send-keys`.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { INVOKED_DIRECTLY } from './cli-test-support.js';

const exec = promisify(execFile);

export class Tmux {
  readonly #socket: string;
  readonly #directory: string;
  #windows = 0;

  private constructor(directory: string) {
    this.#directory = directory;
    this.#socket = join(directory, 'tmux.sock');
  }

  /** Starts a tmux server with one session, `columns` × `rows`; fails when tmux is not installed. */
  static async start(columns: number, rows: number): Promise<Tmux> {
    const tmux = new Tmux(await mkdtemp(join(tmpdir(), 'jobs-tmux-')));
    const size = ['-x', String(columns), '-y', String(rows)];
    await tmux.#run('new-session', '-d', '-s', 'test', ...size, 'sleep', '3600');
    // A window whose command ended keeps its screen and tells its exit status.
    await tmux.#run('set-option', '-g', 'remain-on-exit', 'on');
    return tmux;
  }

  /**
   * Runs `argv` in a new window; `env` is added to its environment. A shell runs it and writes its exit status
   * to a file: tmux itself sometimes misses the end of a command it started (its zombie is never reaped, its
   * status never set). The shell defers Ctrl-C (`trap :`) until the command ended; the command gets it as usual.
   */
  async open(argv: string[], env: Record<string, string> = {}): Promise<Pane> {
    const name = `w${++this.#windows}`;
    const statusFile = join(this.#directory, `${name}.status`);
    const variables = Object.entries({ ...INVOKED_DIRECTLY, ...env, STATUS_FILE: statusFile }).flatMap(
      ([key, value]) => ['-e', `${key}=${value}`],
    );
    const script = 'trap : INT; "$@"; echo $? > "$STATUS_FILE"';
    await this.#run(
      'new-window',
      '-d',
      '-t',
      'test:',
      '-n',
      name,
      '-e',
      `STATUS_FILE=${statusFile}`,
      ...variables,
      '--',
      'sh',
      '-c',
      script,
      'sh',
      ...argv,
    );
    return new Pane(this, `test:${name}`, statusFile);
  }

  /** Stops the tmux server (and what still runs in it) and removes its directory. */
  async close(): Promise<void> {
    await this.#run('kill-server').catch(() => {});
    await rm(this.#directory, { recursive: true, force: true });
  }

  /** `tmux -S <socket> ...args`; its stdout. */
  async command(...args: string[]): Promise<string> {
    return this.#run(...args);
  }

  async #run(...args: string[]): Promise<string> {
    // -u: UTF-8 whatever the locale; -f /dev/null: no user configuration.
    const { stdout } = await exec('tmux', ['-u', '-f', '/dev/null', '-S', this.#socket, ...args]);
    return stdout;
  }
}

export class Pane {
  /** Every distinct screen seen by `screen()`, in order. */
  readonly frames: string[] = [];
  readonly #tmux: Tmux;
  readonly #target: string;
  readonly #statusFile: string;

  constructor(tmux: Tmux, target: string, statusFile: string) {
    this.#tmux = tmux;
    this.#target = target;
    this.#statusFile = statusFile;
  }

  /** The pane's text: its scrollback and screen, without trailing blanks. */
  async screen(): Promise<string> {
    const text = await this.#tmux.command('capture-pane', '-p', '-J', '-S', '-', '-t', this.#target);
    const screen = text.replace(/[ \t]+$/gm, '').replace(/\s+$/, '');
    if (screen !== this.frames.at(-1)) this.frames.push(screen);
    return screen;
  }

  /**
   * Resolves with the screen once `predicate` holds for it. Gives up after `patienceMs` (far beyond what the
   * test needs; it only bounds the wait) with the screen in the error.
   */
  async waitFor(predicate: (screen: string) => boolean, patienceMs = 15_000): Promise<string> {
    const giveUpAt = Date.now() + patienceMs;
    for (;;) {
      const screen = await this.screen();
      if (predicate(screen)) return screen;
      if (Date.now() > giveUpAt) throw new Error(`The screen never matched; it shows:\n${screen}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Types keys, in tmux's names (`C-c` is Ctrl-C). */
  async sendKeys(...keys: string[]): Promise<void> {
    await this.#tmux.command('send-keys', '-t', this.#target, ...keys);
  }

  /** Resolves with the exit status of the pane's command once it ended (gives up like `waitFor`). */
  async exitStatus(patienceMs = 15_000): Promise<number> {
    const giveUpAt = Date.now() + patienceMs;
    for (;;) {
      const status = await readFile(this.#statusFile, 'utf8').catch(() => '');
      if (status.endsWith('\n')) return Number(status);
      if (Date.now() > giveUpAt)
        throw new Error(`The command did not end; the screen shows:\n${await this.screen()}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
