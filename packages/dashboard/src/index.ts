export { createDashboard } from './dashboard.js';
export {
  ACTION_HEADER,
  type DashboardAccess,
  type DashboardAuthorize,
  type DashboardOptions,
} from './options.js';
export type { EndpointOverview, Overview } from './overview.js';
