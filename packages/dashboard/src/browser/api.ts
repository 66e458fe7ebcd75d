// The dashboard API, relative to the page's <base>; problems become errors with their detail.

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export const STATUSES: JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'canceled'];

export interface Problem {
  title?: string;
  detail?: string;
  code?: string;
  status?: number;
}

export interface Job {
  id: string;
  endpoint: string;
  status: JobStatus;
  owner: string | null;
  priority: number;
  attempt: number;
  maxAttempts: number;
  progress: { fraction: number; message?: string } | null;
  error: Problem | null;
  cancelRequested: boolean;
  createdAt: string;
  updatedAt: string;
  runAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  expiresAt: string | null;
  estimatedCompletionAt: string | null;
  input?: unknown;
  output?: unknown;
}

export interface RunTime {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface EndpointOverview {
  endpoint: string;
  description: string | null;
  counts: Record<JobStatus, number>;
  series: Array<{ succeeded: number; failed: number; canceled: number }>;
  throughputPerMinute: number;
  failureRate: number | null;
  runTime: RunTime | null;
}

export interface Overview {
  since: string;
  bucketMs: number;
  endpoints: EndpointOverview[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail || problem.title || `HTTP ${status}`);
  }
}

async function answer<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body as Problem);
  return body as T;
}

let base = '/';

/** Where the dashboard is mounted (from the page's config): every API path is below it. */
export function setBase(path: string): void {
  base = path.endsWith('/') ? path : `${path}/`;
}

/** The URL of an API path such as `api/jobs`. */
export function apiUrl(path: string): string {
  return `${base}${path}`;
}

export function getJson<T>(path: string): Promise<T> {
  return fetch(apiUrl(path), { headers: { accept: 'application/json' }, credentials: 'same-origin' }).then(
    (r) => answer<T>(r),
  );
}

/** An action: sends the header the server asks of every change. */
export function act<T>(method: 'POST' | 'DELETE', path: string): Promise<T> {
  return fetch(apiUrl(path), {
    method,
    headers: { accept: 'application/json', 'x-jobs-dashboard': '1' },
    credentials: 'same-origin',
  }).then((r) => answer<T>(r));
}
