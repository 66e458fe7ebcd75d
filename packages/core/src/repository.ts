import type { DispatchLimits } from './flow.js';
import type { TraceContext } from './telemetry.js';
import type {
  JobChange,
  JobProgress,
  JobRecord,
  JobRecordHeader,
  JobStatus,
  ProblemDetails,
} from './types.js';

/** What the runtime hands a repository to store a new job. */
export interface NewJob {
  id: string;
  endpoint: string;
  input: unknown;
  owner: string | null;
  idempotencyKey: string | null;
  inputHash: string | null;
  maxAttempts: number;
  /** Not claimable before this time; omitted or null: now (or now + delayMs). */
  runAt?: Date | null;
  /** Not claimable before now + this (by the repository's clock); ignored when runAt is given. */
  delayMs?: number | null;
  /** An integer from -1000 to 1000; among due jobs of an endpoint, higher is dispatched first. Default 0. */
  priority?: number;
  /**
   * The job's key for its endpoint's flow limits (`Endpoint.limits`; '' when the endpoint has limits but no key
   * function). Omitted or null: the job is not subject to limits. A job with a key is handed out only by a dispatch
   * with `limits` (see DispatchQuery), never by one without.
   */
  limitKey?: string | null;
  /**
   * At most one queued or running job per (endpoint, owner, uniqueKey) (owner null counts as one owner): when a
   * live job holds it, `create` returns that job (`created: false, reason: 'unique'`) and stores nothing. A job
   * that is final or deleted holds its key no more. Omitted or null: none.
   */
  uniqueKey?: string | null;
  /** The submit span's W3C trace context (`isTraceContext`); omitted or null: none. Stored and read back as is. */
  traceContext?: TraceContext | null;
}

export const MIN_PRIORITY = -1000;
export const MAX_PRIORITY = 1000;

/**
 * One item's result in a batch call: its value, or the error that refused this item alone (the other items of
 * the batch are unaffected). An error that concerns the whole call (an unreachable backend) rejects the call.
 */
export type ItemResult<T> = { ok: true; value: T } | { ok: false; error: Error };

/**
 * A stored job (`created: true`), or the existing job returned instead (`created: false`): the live job of the
 * same (owner, endpoint, idempotencyKey) (`reason: 'idempotent'`), else the queued or running job of the same
 * (owner, endpoint, uniqueKey) (`reason: 'unique'`).
 */
export type CreateResult =
  | { job: JobRecordHeader; created: true }
  | { job: JobRecordHeader; created: false; reason: 'idempotent' | 'unique' };

export interface ClaimRequest {
  id: string;
  /** Fresh random token; every later transition of this run must present it. */
  leaseToken: string;
  leaseMs: number;
  /** Expected duration of the run: estimatedCompletionAt becomes now + this. Omitted or null: unchanged. */
  estimatedDurationMs?: number | null;
}

export interface HeartbeatRequest {
  id: string;
  leaseToken: string;
  /** The lease is renewed to now + leaseMs. */
  leaseMs: number;
  /** undefined leaves the stored value unchanged. */
  progress?: JobProgress | null;
  /** estimatedCompletionAt becomes now + this (null clears it); undefined leaves it unchanged. */
  estimatedRemainingMs?: number | null;
}

export interface HeartbeatResult {
  /** false when the job is no longer running under this token: the run must stop, its result would be refused. */
  held: boolean;
  cancelRequested: boolean;
}

/** How a run ends: a final state, or back to `queued` for a retry or a release. */
export type SettleOutcome =
  | {
      status: 'succeeded';
      output: unknown;
      retentionMs: number;
      /** The worker has a cleanup: removing or expiring the job leaves a pending cleanup (see claimCleanups). */
      cleanup?: boolean;
      /** Stored with the result (the last progress report, held back by the throttle); undefined: unchanged. */
      progress?: JobProgress | null;
      /** estimatedCompletionAt becomes now + this (the last ETA held back by the throttle); undefined: unchanged. */
      estimatedRemainingMs?: number | null;
    }
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

export interface SettleRequest {
  id: string;
  leaseToken: string;
  outcome: SettleOutcome;
}

export interface CancelOptions {
  /** Retention applied when a queued job becomes canceled. */
  retentionMs: number;
  error: ProblemDetails;
}

export interface RetryOptions {
  /** Executions the job may start from now on: its maxAttempts becomes its attempt + this (a positive integer). */
  attempts: number;
}

export interface RetryResult {
  /** false: the job was not failed or canceled, or its unique key is held by another live job; it was left as it is. */
  retried: boolean;
  /** The job as it is afterwards. */
  job: JobRecordHeader;
  /** With `retried: false`: the id of the queued or running job that holds this job's unique key. */
  uniqueConflict?: string;
}

export interface DispatchQuery {
  /** At most this many jobs. */
  limit: number;
  /** Only these endpoints' jobs; undefined: every endpoint. */
  endpoints?: readonly string[] | undefined;
  /** Not these endpoints' jobs (with or without `endpoints`): those a dispatch of their own bounds. */
  exceptEndpoints?: readonly string[] | undefined;
  /**
   * Also hand out again jobs handed out this long ago or more and still not claimed (their message may be lost):
   * `queued` jobs with dispatchedAt <= now - redispatchAfterMs, and `running` jobs with an expired lease likewise.
   * null: only jobs not handed out since they became claimable.
   */
  redispatchAfterMs: number | null;
  /**
   * Keeps the queue short: never-dispatched jobs are taken only while fewer than this many of the endpoint's jobs
   * are handed out and not yet claimed (queued with dispatchedAt set), so that a job of higher priority submitted
   * later does not wait behind a long backlog in the broker. Only with exactly one endpoint in `endpoints`.
   * A bound kept by every dispatch on its own: concurrent dispatches may overshoot it a little (not with `limits`).
   */
  maxAhead?: number | undefined;
  /**
   * Only with exactly one endpoint in `endpoints`: hands out that endpoint's jobs stored with a `limitKey` (and
   * only those), keeping to these caps across every dispatch of every process (concurrent dispatches of the
   * endpoint are serialized, or see each other's held jobs): a job counts against the concurrency caps from its
   * dispatch until it is final or back in the queue for a retry (a lost message or an expired lease handed out
   * again keeps its place), and every hand-out counts against the rates for their interval. The order is
   * `planDispatch`'s: jobs already counted (orphaned or stale, with `redispatchAfterMs`) first, then fair turns
   * between keys. Without `limits`, jobs stored with a `limitKey` are never taken.
   */
  limits?: DispatchLimits | undefined;
}

export interface DispatchItem {
  id: string;
  endpoint: string;
  /** The job's stored trace context (its submit span), so that the dispatch span joins the submit's trace. */
  traceContext: TraceContext | null;
}

/** Publishes the items; entry i says whether item i is durably in the queue. Called once per `dispatch`. */
export type DispatchPublisher = (items: readonly DispatchItem[]) => Promise<readonly boolean[]>;

export interface DispatchResult {
  /** Jobs published and recorded as dispatched. */
  dispatched: number;
  /** Jobs found dispatchable (published or not); equal to the limit when more may be waiting. */
  found: number;
  /**
   * Milliseconds (by the repository's clock) until the earliest `queued` job that is not claimable yet becomes
   * claimable (runAt > now, not dispatched), or, with `limits`, until a rate limit lets a waiting job go,
   * so a dispatcher can sleep until then; null when there is none.
   */
  nextDueInMs: number | null;
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
  jobs: JobRecordHeader[];
  nextCursor: string | null;
}

/** `search`: jobs across endpoints and owners, for an operator's view (a dashboard). */
export interface SearchQuery {
  /** Only these endpoints' jobs; undefined: every endpoint. */
  endpoints?: readonly string[] | undefined;
  /** undefined: every owner's jobs; null: the jobs without an owner; a string: that owner's. */
  owner?: string | null | undefined;
  status?: JobStatus | undefined;
  /** Only jobs created at or after this time. */
  createdFrom?: Date | undefined;
  /** Only jobs created before this time. */
  createdBefore?: Date | undefined;
  limit: number;
  /** Opaque cursor from a previous page's nextCursor (of the same query). */
  cursor?: string | undefined;
}

/** `stats`: what an operator's view shows of each endpoint over a recent window. */
export interface StatsQuery {
  /** Only these endpoints; undefined: every endpoint that has jobs. */
  endpoints?: readonly string[] | undefined;
  /** undefined: every owner's jobs; null: the jobs without an owner; a string: that owner's. */
  owner?: string | null | undefined;
  /** Start of the window: final jobs count when they finished at or after it. */
  since: Date;
  /** Width of the window's buckets in milliseconds (a positive integer). */
  bucketMs: number;
}

/** Final jobs that finished within one bucket of the window, by status. */
export interface StatsBucket {
  /** since + i × bucketMs: the bucket holds finishedAt in [start, start + bucketMs). */
  start: Date;
  succeeded: number;
  failed: number;
  canceled: number;
}

/** Run times (finishedAt − startedAt, ms) of the succeeded and failed jobs of the window; nearest-rank percentiles. */
export interface RunTimeStats {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface EndpointStats {
  endpoint: string;
  /** queued and running: the live jobs now; succeeded, failed, canceled: those that finished in the window. */
  counts: Record<JobStatus, number>;
  /** The buckets that have jobs, oldest first. */
  buckets: StatsBucket[];
  /** null when no job succeeded or failed in the window. */
  runTime: RunTimeStats | null;
}

export interface CleanupQuery {
  /** Only cleanups of these endpoints (those whose worker this process has). */
  endpoints: readonly string[];
  limit: number;
  /** Held for this long: another claim skips the cleanup until it is finished or the lease expires. */
  leaseMs: number;
  leaseToken: string;
}

/** A worker cleanup still to run for a succeeded job that was removed or expired. */
export interface PendingCleanup {
  /** The job as it was when it was removed, with its input and output. */
  job: JobRecord;
  /** Attempts started so far, this one included (1 on the first). */
  attempt: number;
}

export type Unsubscribe = () => void;

export interface SubscribeOptions {
  /**
   * Called with false when notifications may stop arriving (a connection lost), and with true once they flow
   * again; changes made in between may not have been announced, so subscribers check what they watch then.
   */
  onLiveChange?: (live: boolean) => void;
}

/**
 * Stores jobs; the single source of truth for their state.
 *
 * Every method is safe to call concurrently from many processes. Times (`createdAt`, lease expiry,
 * `runAt`, `expiresAt`, ...) come from the repository's own clock so that every node agrees.
 * Values are copied in and out: a caller never shares an object with the store.
 * A final job whose `expiresAt` has passed is absent for every method but `deleteExpired`: `get` and the
 * transitions find nothing, `list` skips it, and its idempotency key is free again.
 * Every change of a job (create, claim, heartbeat that changes progress or ETA, settle, cancel, remove)
 * is announced to subscribers, in every process sharing the store, and sets `updatedAt` to now (or 1 ms past
 * its previous value, so that it strictly increases per job and two changes never share it); lease
 * renewals and dispatches are silent and leave `updatedAt` as it is (waiters compare it).
 * `cancelRequested` and `error` survive `claim` and `settle` to `queued`: a cancel request is never lost
 * by a retry.
 * The hot-path writes (`create`, `claim`, `heartbeat`, `settle`) take a batch: the runtime coalesces
 * concurrent calls into one (group commit). Each item of a batch is judged on its own, as if it were alone;
 * the batch is stored at once (one statement or transaction) where the store allows.
 * A backend that cannot be reached makes methods reject with `UnavailableError`, and no call waits forever
 * on it; invalid values (that the store cannot hold) refuse their item (or the call) with
 * `InvalidInputError`; nothing is changed for what is refused.
 */
export interface JobRepository {
  /**
   * Inserts each job as `queued` with attempt 0, createdAt = now, runAt = its runAt (or now + delayMs, or now),
   * its priority (default 0), dispatchedAt null. A priority outside -1000..1000 or not an integer refuses the item.
   * When `idempotencyKey` is set and a live job with the same (owner, endpoint, idempotencyKey) exists
   * (owner null counts as one owner), returns that job with `created: false, reason: 'idempotent'` and stores
   * nothing. Else, when `uniqueKey` is set and a queued or running job with the same (owner, endpoint, uniqueKey)
   * exists, returns that job with `created: false, reason: 'unique'` and stores nothing.
   * Atomic: of two concurrent creates with the same key (or two items of one batch), exactly one creates.
   * An id that is already stored refuses its item with `InvalidInputError`.
   */
  create(jobs: readonly NewJob[]): Promise<ItemResult<CreateResult>[]>;

  /** The job with its input and output, or only its header with 'header'; null when unknown or expired. */
  get(id: string): Promise<JobRecord | null>;
  get(id: string, projection: 'header'): Promise<JobRecordHeader | null>;

  /**
   * For each request, compare-and-set `queued` (with runAt <= now) or `running` with an expired lease →
   * `running`: attempt + 1, the given lease token, leaseExpiresAt = now + leaseMs, startedAt = now,
   * progress null, dispatchedAt null. Returns the claimed job, or null when it is not claimable (unknown,
   * final, running under a live lease, or not due yet). Of concurrent claims of one job (in one batch or
   * not), one wins.
   */
  claim(requests: readonly ClaimRequest[]): Promise<Array<JobRecord | null>>;

  /** Renews each lease (and stores progress/ETA when given) if the job is running under that token. */
  heartbeat(requests: readonly HeartbeatRequest[]): Promise<ItemResult<HeartbeatResult>[]>;

  /**
   * For each request, compare-and-set `running` under its lease token → the outcome. Final outcomes set
   * finishedAt = now, expiresAt = now + retentionMs, clear the lease. `queued` sets runAt = now + delayMs,
   * clears the lease, dispatchedAt, progress and ETA, and decrements attempt when refundAttempt.
   * true when recorded; false when the token no longer holds the job (nothing changed).
   */
  settle(requests: readonly SettleRequest[]): Promise<ItemResult<boolean>[]>;

  /**
   * `queued` → `canceled` (final, with the given error and retention); `running` → cancelRequested = true;
   * a final job is left as it is. Returns the job as it is afterwards, null when unknown.
   */
  requestCancel(id: string, options: CancelOptions): Promise<JobRecordHeader | null>;

  /**
   * Compare-and-set `failed` or `canceled` → `queued`, for a job to run again under the same id: runAt = now,
   * maxAttempts = attempt + `attempts` (attempt keeps counting the executions started), and what the last run
   * left is cleared: output, error, progress, ETA, startedAt, finishedAt, expiresAt (no expiry while live),
   * cancelRequested, dispatchedAt, the lease and a pending cleanup flag. Announced like every change.
   * `{ retried: false, job }` for a job in any other state (unchanged); null when unknown or expired. Of
   * concurrent retries of one job, one retries it. A job with a `uniqueKey` that another queued or running job of
   * its (owner, endpoint) holds now is not retried: `{ retried: false, job, uniqueConflict: <that job's id> }`
   * (at most one live job per unique key, whatever the order of retries and creates).
   */
  retry(id: string, options: RetryOptions): Promise<RetryResult | null>;

  /**
   * Deletes a job in a final state. Returns the removed job; null when unknown or not final. A succeeded job
   * settled with `cleanup: true` leaves a pending cleanup.
   */
  remove(id: string): Promise<JobRecordHeader | null>;

  /**
   * Hands dispatchable jobs to the queue, each once however many dispatchers run: finds up to `limit` of them that
   * no concurrent dispatch holds, calls `publish` with them once, and records dispatchedAt = now for those it
   * published. Dispatchable, in this order: `queued` jobs with runAt <= now never dispatched (highest priority
   * first, then earliest runAt; equal ones in any order), `running` jobs whose lease expired and not dispatched since, and with
   * `redispatchAfterMs`, jobs of either kind dispatched that long ago or more. The jobs are held while
   * `publish` runs: another dispatch skips them; a claim or cancel of one may wait until the dispatch is
   * recorded, and a job claimed meanwhile is not marked. If `publish` rejects, or the process dies while it
   * runs, nothing is recorded and the jobs stay dispatchable.
   */
  dispatch(query: DispatchQuery, publish: DispatchPublisher): Promise<DispatchResult>;

  /**
   * Deletes up to `limit` final jobs whose expiresAt <= now, and returns them. Each succeeded job settled
   * with `cleanup: true` leaves a pending cleanup.
   */
  deleteExpired(limit: number): Promise<JobRecordHeader[]>;

  /** One owner's jobs of one endpoint, newest first (createdAt desc, id desc), keyset-paginated. */
  list(query: ListQuery): Promise<ListPage>;

  /**
   * Live jobs of any endpoints and owners matching every filter given, newest first (createdAt desc, id desc),
   * keyset-paginated like `list`: a page never reads more than it must (no sort of every job, no count).
   */
  search(query: SearchQuery): Promise<ListPage>;

  /**
   * Per endpoint with jobs (by name): the live queued and running jobs now; the live final jobs that finished at
   * or after `since`, counted by status and by bucket of `bucketMs`; and the run times of those that succeeded
   * or failed. Jobs already removed or expired are not counted (the window shows what is stored).
   */
  stats(query: StatsQuery): Promise<EndpointStats[]>;

  /**
   * Takes up to `limit` pending cleanups of the given endpoints that are due (oldest first) and not held by
   * another claim whose lease is live, holding them under the given token for `leaseMs`.
   */
  claimCleanups(query: CleanupQuery): Promise<PendingCleanup[]>;

  /**
   * Ends a cleanup attempt held under this token: null deletes the pending cleanup (done, or given up);
   * a number makes it due again that many milliseconds from now. false when the token no longer holds it.
   */
  finishCleanup(id: string, leaseToken: string, retryAfterMs: number | null): Promise<boolean>;

  /**
   * The last occurrence recorded for each of these recurring schedules (a name never recorded is absent).
   */
  readSchedules(names: readonly string[]): Promise<Map<string, Date>>;

  /**
   * Records `occurrence` as the schedule's last one, unless the same or a later one is recorded already (by this
   * process or any other). true when this call moved it forward.
   */
  advanceSchedule(name: string, occurrence: Date): Promise<boolean>;

  /**
   * Calls `listener` after every change of a job. Resolves once the subscription is live. Notifications may
   * be coalesced or, while the subscription is not live (`onLiveChange(false)`), lost.
   */
  subscribe(listener: (change: JobChange) => void, options?: SubscribeOptions): Promise<Unsubscribe>;

  close(): Promise<void>;
}
