import type { JobService, Logger } from '@jobs/core';
import type { Context } from 'hono';

/** What the user of a request may see. */
export interface DashboardAccess {
  /**
   * Limits the user to this owner's jobs (null: the jobs stored without an owner): lists, counts, charts, job pages
   * and actions then never show or touch another owner's job. Omitted (or undefined): every owner's jobs.
   */
  owner?: string | null | undefined;
}

/**
 * The authorization hook, asked on every request (pages, assets, API, event streams, actions). A
 * `DashboardAccess` lets the request through; null, undefined or false refuse it (`403`). It may also throw
 * Hono's `HTTPException` to answer otherwise (a `401` with `WWW-Authenticate`, a redirect to a login page).
 */
export type DashboardAuthorize = (
  c: Context,
) => DashboardAccess | null | undefined | false | Promise<DashboardAccess | null | undefined | false>;

export interface DashboardOptions {
  /** The service whose endpoints the dashboard shows (its repository answers every query). */
  service: JobService;
  /** Required: without it every request is refused (an admin surface is never open by default). */
  authorize: DashboardAuthorize;
  /** Shown in the page's header and title. Default `Jobs`. */
  title?: string;
  /** Jobs per page of the list, 1 to 200. Default 50. */
  pageSize?: number;
  /** Aborting it ends the live event streams (the app shuts down). */
  signal?: AbortSignal;
  /** Comment lines on an idle event stream, so proxies keep it open. Default 15 s. */
  heartbeatMs?: number;
  logger?: Logger;
}

/** The header every request that changes something must carry (a cross-site form or image cannot send it). */
export const ACTION_HEADER = 'x-jobs-dashboard';
