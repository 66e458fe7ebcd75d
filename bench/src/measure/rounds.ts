import { delay } from '../support.js';

export interface RoundsOptions {
  /** Rounds: each starts every row afresh and measures it once. */
  repeats: number;
  /**
   * A round that fails (a server restarted by someone else, a lost connection) is run again this many times,
   * after a pause; the failure is listed in the result.
   */
  retries: number;
  log(line: string): void;
  /** Called before each round of each row (e.g. to wait until the machine is idle). */
  beforeRound?(label: string): Promise<void>;
}

export interface RowRounds<Row, R> {
  row: Row;
  rounds: R[];
  /** Rounds that failed and were run again, with the error. */
  retried: string[];
}

/** How to measure a row once, and to name it and its result in the progress log. */
export interface RoundOf<Row, R> {
  label(row: Row): string;
  round(row: Row): Promise<R>;
  describe(result: R): string;
}

/**
 * Runs a round for every row, `repeats` times, interleaved: round 1 of every row, then round 2 of every row...
 * Interleaving spreads a slow period of a shared machine over all rows instead of one.
 */
export async function runRounds<Row, R>(
  rows: readonly Row[],
  { label, round, describe }: RoundOf<Row, R>,
  options: RoundsOptions,
): Promise<RowRounds<Row, R>[]> {
  const all = rows.map((row): RowRounds<Row, R> => ({ row, rounds: [], retried: [] }));
  for (let index = 1; index <= options.repeats; index++) {
    for (const [rowIndex, row] of rows.entries()) {
      const name = `${label(row)} [${index}/${options.repeats}]`;
      for (let attempt = 0; ; attempt++) {
        await options.beforeRound?.(label(row));
        try {
          const result = await round(row);
          all[rowIndex]!.rounds.push(result);
          options.log(`${name}: ${describe(result)}`);
          break;
        } catch (error) {
          if (attempt >= options.retries) throw error;
          const note = `round ${index} failed (${error instanceof Error ? error.message : String(error)}) and was run again`;
          all[rowIndex]!.retried.push(note);
          options.log(`${name}: ${note} in 15 s`);
          await delay(15_000);
        }
      }
    }
  }
  return all;
}
