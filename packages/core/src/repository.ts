import type { JobProgress, JobRecord, JobStatus, ProblemDetails } from './types.js';

/** What the runtime hands a repository to store a new job. */
export interface NewJob {
  id: string;
  endpoint: string;
  input: unknown;
  owner: string | null;
  idempotencyKey: string | null;
  inputHash: string | null;
  maxAttempts: number;
  estimatedCompletionAt: Date | null;
}

export interface CreateResult {
  job: JobRecord;
  /** false when a job with the same (owner, endpoint, idempotencyKey) already existed and was returned instead. */
  created: boolean;
}

export interface ClaimOptions {
  /** Fresh random token; every later transition of this run must present it. */
  leaseToken: string;
  leaseMs: number;
}

export interface HeartbeatOptions {
  leaseMs: number;
  /** undefined leaves the stored value unchanged. */
  progress?: JobProgress | null;
  estimatedCompletionAt?: Date | null;
}

export interface HeartbeatResult {
  /** false when the job is no longer running under this token: the run must stop, its result would be refused. */
  held: boolean;
  cancelRequested: boolean;
}

/** How a run ends: a final state, or back to `queued` for a retry or a release. */
export type SettleOutcome =
  | { status: 'succeeded'; output: unknown; retentionMs: number }
  | { status: 'failed'; error: ProblemDetails; retentionMs: number }
  | { status: 'canceled'; error: ProblemDetails | null; retentionMs: number }
  | {
      status: 'queued';
      /** The job is not claimable again before now + delayMs. */
      delayMs: number;
      error: ProblemDetails | null;
      /** Give the attempt back (a graceful shutdown released the job; it did not fail). */
      refundAttempt: boolean;
    };

export interface CancelOptions {
  /** Retention applied when a queued job becomes canceled. */
  retentionMs: number;
  error: ProblemDetails;
}

export interface DispatchQuery {
  /** A queued job never handed to the queue becomes due this long after its runAt. */
  undispatchedGraceMs: number;
  /**
   * A job handed to the queue but still not claimed is handed again after this long; null: never (only jobs
   * never dispatched, and running jobs with an expired lease that were not dispatched since, are found).
   */
  redispatchAfterMs: number | null;
  /** Only this endpoint's jobs. */
  endpoint?: string | undefined;
  limit: number;
}

export interface ListQuery {
  endpoint: string;
  owner: string | null;
  status?: JobStatus | undefined;
  limit: number;
  /** Opaque cursor from a previous page's nextCursor. */
  cursor?: string | undefined;
}

export interface ListPage {
  jobs: JobRecord[];
  nextCursor: string | null;
}

export type Unsubscribe = () => void;

/**
 * Stores jobs; the single source of truth for their state.
 *
 * Every method is safe to call concurrently from many processes. Times (`createdAt`, lease expiry,
 * `runAt`, `expiresAt`, ...) come from the repository's own clock so that every node agrees.
 * Values are copied in and out: a caller never shares an object with the store.
 * Every change of a job (create, claim, heartbeat that changes progress or ETA, settle, cancel, remove)
 * is announced to subscribers, in every process sharing the store, and sets `updatedAt` to now (or 1 ms past
 * its previous value, so that it strictly increases per job and two changes never share it); lease
 * renewals and `markDispatched` are silent and leave `updatedAt` as it is (waiters compare it).
 * `cancelRequested` and `error` survive `claim` and `settle` to `queued`: a cancel request is never lost
 * by a retry.
 * A backend that cannot be reached makes methods reject with `UnavailableError`; invalid values
 * (that the store cannot hold) make them reject with `InvalidInputError`; nothing is changed then.
 */
export interface JobRepository {
  /**
   * Inserts a job as `queued` with attempt 0, runAt = createdAt = now, dispatchedAt null.
   * When `idempotencyKey` is set and a job with the same (owner, endpoint, idempotencyKey) exists
   * (owner null counts as one owner), returns that job with `created: false` and stores nothing.
   * Atomic: of two concurrent creates with the same key, exactly one creates.
   */
  create(job: NewJob): Promise<CreateResult>;

  get(id: string): Promise<JobRecord | null>;

  /**
   * Compare-and-set `queued` (with runAt <= now) or `running` with an expired lease → `running`:
   * attempt + 1, the given lease token, leaseExpiresAt = now + leaseMs, startedAt = now,
   * progress null, dispatchedAt null. Returns the claimed job, or null when it is not claimable
   * (unknown, final, running under a live lease, or not due yet). Of concurrent claims, one wins.
   */
  claim(id: string, options: ClaimOptions): Promise<JobRecord | null>;

  /** Renews the lease (and stores progress/ETA when given) if the job is running under this token. */
  heartbeat(id: string, leaseToken: string, options: HeartbeatOptions): Promise<HeartbeatResult>;

  /**
   * Compare-and-set `running` under this lease token → the outcome. Final outcomes set finishedAt = now,
   * expiresAt = now + retentionMs, clear the lease. `queued` sets runAt = now + delayMs, clears the lease,
   * dispatchedAt, progress and ETA, and decrements attempt when refundAttempt.
   * Returns the updated job, or null when the token no longer holds the job (nothing changed).
   */
  settle(id: string, leaseToken: string, outcome: SettleOutcome): Promise<JobRecord | null>;

  /**
   * `queued` → `canceled` (final, with the given error and retention); `running` → cancelRequested = true;
   * a final job is left as it is. Returns the job as it is afterwards, null when unknown.
   */
  requestCancel(id: string, options: CancelOptions): Promise<JobRecord | null>;

  /** Deletes a job in a final state. Returns the removed job; null when unknown or not final. */
  remove(id: string): Promise<JobRecord | null>;

  /**
   * Records that the job id was handed to the queue now, for a `queued` job or a `running` job whose lease
   * expired; otherwise a no-op (a job claimed before the call keeps dispatchedAt null, so that it is found
   * again at once should its worker die).
   */
  markDispatched(id: string): Promise<void>;

  /**
   * Jobs the queue may have lost, oldest first (createdAt, id): `queued` jobs due (runAt <= now) that were
   * never dispatched for undispatchedGraceMs after runAt, or were dispatched redispatchAfterMs ago or more;
   * and `running` jobs whose lease expired and that were not dispatched since the claim (dispatchedAt null)
   * or were dispatched redispatchAfterMs ago or more. With `endpoint`, only that endpoint's jobs.
   */
  findDispatchable(query: DispatchQuery): Promise<Array<{ id: string; endpoint: string }>>;

  /** Deletes up to `limit` final jobs whose expiresAt <= now, and returns them. */
  deleteExpired(limit: number): Promise<JobRecord[]>;

  /** One owner's jobs of one endpoint, newest first (createdAt desc, id desc), keyset-paginated. */
  list(query: ListQuery): Promise<ListPage>;

  /**
   * Calls `listener` with a job's id after every change of that job. Resolves once the subscription is
   * live. Notifications may be coalesced or, during an outage, lost: waiters also poll.
   */
  subscribe(listener: (id: string) => void): Promise<Unsubscribe>;

  close(): Promise<void>;
}
