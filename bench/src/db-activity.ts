import pg from 'pg';

/**
 * What the database did, from `pg_stat_database` (the bench's database only): transactions committed and
 * rows returned by scans. PostgreSQL publishes a busy backend's counters at most once a second (an idle
 * backend's last ones up to 10 s later), so a delta over a window is exact only up to that granularity.
 */
export interface DbCounters {
  transactions: number;
  rowsRead: number;
}

export class DbActivity {
  readonly #client: pg.Client;

  private constructor(client: pg.Client) {
    this.#client = client;
  }

  static async open(databaseUrl: string): Promise<DbActivity> {
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'jobs-bench:stats' });
    await client.connect();
    client.on('error', () => {});
    return new DbActivity(client);
  }

  async sample(): Promise<DbCounters> {
    const result = await this.#client.query<{ xact_commit: string; tup_returned: string }>(
      'SELECT xact_commit, tup_returned FROM pg_stat_database WHERE datname = current_database()',
    );
    const row = result.rows[0]!;
    return { transactions: Number(row.xact_commit), rowsRead: Number(row.tup_returned) };
  }

  close(): Promise<void> {
    return this.#client.end().catch(() => {});
  }
}

export function countersBetween(before: DbCounters, after: DbCounters): DbCounters {
  return {
    // Includes the sampler's own query per sample: one transaction, negligible over a run.
    transactions: Math.max(0, after.transactions - before.transactions),
    rowsRead: Math.max(0, after.rowsRead - before.rowsRead),
  };
}
