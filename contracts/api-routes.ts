import type { CommandType } from './lanes.js';

/**
 * Who a route is for (DESIGN §7), and so which API Gateway authorizer guards it and which
 * throttle group it counts against:
 * - `household`: the app's end users, a JWT from the environment's issuer (household and role
 *   from its claims); `approver` routes also need the approver role;
 * - `operator`: operators and services, IAM (SigV4), any household;
 * - `worker`: worker hosts, IAM (SigV4) as their site's role; the site is in the path so a
 *   site's IAM policy reaches only its own routes.
 */
export type RouteGroup = 'household' | 'operator' | 'worker';
/** The authorizer API Gateway puts in front of a route group. */
export type RouteAuth = 'jwt' | 'iam';

export const ROUTE_GROUP_AUTH: Readonly<Record<RouteGroup, RouteAuth>> = {
  household: 'jwt',
  operator: 'iam',
  worker: 'iam',
};

/**
 * The command API's routes, declared once: API Gateway gets one route per
 * entry (lib/api/command-api.ts), the local gateway authorizes by the same
 * table (local/emulators/api-gateway.ts) and the handler's router matches the
 * same paths. A route that enqueues names the command type it enqueues.
 */
export const API_ROUTES = {
  postMessage: {
    method: 'POST',
    path: '/api/v1/agent/conversations/{conversationId}/messages',
    group: 'household',
    commandType: 'agent.message.posted',
  },
  postApproval: {
    method: 'POST',
    path: '/api/v1/agent/conversations/{conversationId}/approvals/{approvalId}',
    group: 'household',
    commandType: 'agent.approval.decided',
  },
  // A household user's own runs (404/403 for another household's).
  getHouseholdRun: { method: 'GET', path: '/api/v1/agent/runs/{runId}', group: 'household' },
  listHouseholdRuns: { method: 'GET', path: '/api/v1/agent/runs', group: 'household' },
  // Operators: any household's runs and the review queue.
  getRun: { method: 'GET', path: '/api/v1/runs/{runId}', group: 'operator' },
  listRuns: { method: 'GET', path: '/api/v1/runs', group: 'operator' },
  reviewQueue: { method: 'GET', path: '/api/v1/review-queue', group: 'operator' },
  // Worker delegation (seed 004): worker-api.ts. Hosts reach only their own site's routes.
  claimWorkerTask: {
    method: 'POST',
    path: '/api/workers/sites/{site}/tasks/{taskId}/claim',
    group: 'worker',
  },
  postWorkerResult: { method: 'POST', path: '/api/workers/sites/{site}/results', group: 'worker' },
  postWorkerHeartbeat: { method: 'POST', path: '/api/workers/sites/{site}/heartbeats', group: 'worker' },
  workerHealth: { method: 'GET', path: '/api/workers/health', group: 'operator' },
  workerMetrics: { method: 'GET', path: '/api/workers/metrics', group: 'operator' },
  getWorkerDelegation: { method: 'GET', path: '/api/workers/delegation', group: 'operator' },
  putWorkerDelegation: { method: 'PUT', path: '/api/workers/delegation', group: 'operator' },
} as const satisfies Record<
  string,
  { method: ApiMethod; path: string; group: RouteGroup; commandType?: CommandType }
>;

/** The HTTP methods the API serves. */
export type ApiMethod = 'GET' | 'POST' | 'PUT';

/** Command types the API enqueues (its POST routes). */
export const API_COMMAND_TYPES: readonly CommandType[] = Object.values(API_ROUTES).flatMap((route) =>
  'commandType' in route ? [route.commandType] : [],
);

export type RouteName = keyof typeof API_ROUTES;

/** A worker route's path for one site, e.g. `workerRoutePath('postWorkerResult', 'lab')`. */
export function workerRoutePath(
  route: 'claimWorkerTask' | 'postWorkerResult' | 'postWorkerHeartbeat',
  site: string,
  taskId?: string,
): string {
  return API_ROUTES[route].path
    .replace('{site}', encodeURIComponent(site))
    .replace('{taskId}', encodeURIComponent(taskId ?? ''));
}

/** A matcher for a path template: `{name}` matches one path segment. */
export function compileRoutePath(template: string): {
  readonly pattern: RegExp;
  readonly params: readonly string[];
} {
  const params: string[] = [];
  const source = template
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (!param?.[1]) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      params.push(param[1]);
      return '([^/]+)';
    })
    .join('/');
  return { pattern: new RegExp(`^${source}$`), params };
}
