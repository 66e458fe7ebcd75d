// The public API of @jobs/core, listed one by one: a name exported here is a promise to users and adapter
// authors, so index.test.ts pins the list and changing it is a deliberate act.

export type { CallerOptions } from './caller.js';
export { CleanupRunner, type CleanupRunnerOptions } from './cleanup.js';
export { Dispatcher, type DispatcherOptions } from './dispatcher.js';
export {
  type BackoffOptions,
  backoffDelay,
  checkPriority,
  defineEndpoint,
  ENDPOINT_NAME_PATTERN,
  type Endpoint,
  type EndpointDefinition,
  type EndpointInput,
  type EndpointLimits,
  type EndpointOptions,
  type EndpointOutput,
  type EndpointParsedInput,
  type EndpointUnique,
  type ResolvedLimits,
  type RetryContext,
  type RetryPolicy,
} from './endpoint.js';
export {
  CANCELED_PROBLEM,
  IdempotencyKeyReusedError,
  InvalidEndpointError,
  InvalidInputError,
  isJobsError,
  JobFailedError,
  JobNotRetryableError,
  JobsError,
  type JobsErrorCode,
  type JobsErrorOptions,
  NotFoundError,
  OutputNotAvailableError,
  OutputNotReadyError,
  PROBLEM_TYPE_BASE,
  problem,
  problemType,
  RetryLaterError,
  UnavailableError,
  UniqueConflictError,
  type ValidationIssue,
} from './errors.js';
export {
  type DispatchLimits,
  type FlowCandidate,
  type FlowPlan,
  type FlowState,
  NO_LIMITS,
  planDispatch,
  type RateLimit,
  rateWindowMs,
} from './flow.js';
export { createWorkerHost, WorkerHost, type WorkerHostOptions } from './host/host.js';
export {
  type CursorPosition,
  decodeCursor,
  encodeCursor,
  hashInput,
  isJobId,
  JOB_ID_PATTERN,
  newJobId,
  newLeaseToken,
  stableStringify,
} from './ids.js';
export { checkStorableDate, checkStorableText, isStorableString, toStorableJson } from './json.js';
export {
  consoleLogger,
  describeError,
  type LogFields,
  type LogFn,
  type Logger,
  silentLogger,
} from './logger.js';
export { type ChangeCallback, ChangeNotifier } from './notifier.js';
export { checkNumber, type NumberRule, numberOption } from './options.js';
export type {
  ConsumeOptions,
  DeliveryHandler,
  JobQueue,
  QueueConsumer,
  QueueDelivery,
  QueueMessage,
} from './queue.js';
export type {
  CancelOptions,
  ClaimRequest,
  CleanupQuery,
  CreateResult,
  DispatchItem,
  DispatchPublisher,
  DispatchQuery,
  DispatchResult,
  EndpointStats,
  HeartbeatRequest,
  HeartbeatResult,
  ItemResult,
  JobRepository,
  ListPage,
  ListQuery,
  NewJob,
  PendingCleanup,
  RetryOptions,
  RetryResult,
  RunTimeStats,
  SearchQuery,
  SettleOutcome,
  SettleRequest,
  StatsBucket,
  StatsQuery,
  SubscribeOptions,
  Unsubscribe,
} from './repository.js';
export { MAX_PRIORITY, MIN_PRIORITY } from './repository.js';
export { createJobsRuntime, type JobsRuntime, type JobsRuntimeOptions } from './runtime.js';
export {
  checkScheduleName,
  defineSchedule,
  type MissedOccurrences,
  occurrenceKey,
  SCHEDULE_NAME_PATTERN,
  type Schedule,
  type ScheduleDefinition,
  type ScheduleInfo,
} from './schedule.js';
export {
  type ScheduledJob,
  Scheduler,
  type SchedulerOptions,
  type SchedulerReport,
} from './scheduler.js';
export {
  createJobService,
  type DeleteOutcome,
  JobService,
  type JobServiceOptions,
  type ListOptions,
} from './service.js';
export { runTimeStats, zeroCounts } from './stats.js';
export {
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_LIMIT_KEY_LENGTH,
  MAX_UNIQUE_KEY_LENGTH,
  type SubmitManyItem,
  type SubmitManyResult,
  type SubmitOptions,
  type SubmitResult,
} from './submit.js';
export { createSweeper, Sweeper, type SweeperOptions, type SweepReport } from './sweeper.js';
export {
  checkTraceContext,
  isTraceContext,
  type MeterProviderLike,
  type TelemetryOptions,
  type TraceContext,
  type TracerProviderLike,
  toTraceContext,
} from './telemetry.js';
export { sleep, unrefTimer, within, withTimeout } from './timers.js';
export {
  type FinalStatus,
  isFinalStatus,
  isJobStatus,
  JOB_STATUSES,
  type JobChange,
  type JobExecutionResult,
  type JobHeader,
  type JobProgress,
  type JobRecord,
  type JobRecordHeader,
  type JobStatus,
  type ProblemDetails,
  toJobHeader,
} from './types.js';
export type { WaitOptions } from './waiting.js';
export {
  implement,
  type Worker,
  type WorkerContext,
  type WorkerFunction,
  type WorkerOptions,
} from './worker.js';
