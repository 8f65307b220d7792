import type { CommandType } from './lanes.js';

/**
 * The command API's routes, declared once: API Gateway gets one route per
 * entry (lib/api/command-api.ts) and the handler's router matches the same paths.
 * A route that enqueues names the command type it enqueues.
 */
export const API_ROUTES = {
  postMessage: {
    method: 'POST',
    path: '/api/v1/agent/conversations/{conversationId}/messages',
    commandType: 'agent.message.posted',
  },
  postApproval: {
    method: 'POST',
    path: '/api/v1/agent/conversations/{conversationId}/approvals/{approvalId}',
    commandType: 'agent.approval.decided',
  },
  getRun: { method: 'GET', path: '/api/v1/runs/{runId}' },
  listRuns: { method: 'GET', path: '/api/v1/runs' },
  reviewQueue: { method: 'GET', path: '/api/v1/review-queue' },
  // Worker delegation (seed 004): worker-api.ts.
  claimWorkerTask: { method: 'POST', path: '/api/workers/tasks/{taskId}/claim' },
  postWorkerResult: { method: 'POST', path: '/api/workers/results' },
  postWorkerHeartbeat: { method: 'POST', path: '/api/workers/heartbeats' },
  workerHealth: { method: 'GET', path: '/api/workers/health' },
  workerMetrics: { method: 'GET', path: '/api/workers/metrics' },
  getWorkerDelegation: { method: 'GET', path: '/api/workers/delegation' },
  putWorkerDelegation: { method: 'PUT', path: '/api/workers/delegation' },
} as const satisfies Record<string, { method: ApiMethod; path: string; commandType?: CommandType }>;

/** The HTTP methods the API serves. */
export type ApiMethod = 'GET' | 'POST' | 'PUT';

/** Command types the API enqueues (its POST routes). */
export const API_COMMAND_TYPES: readonly CommandType[] = Object.values(API_ROUTES).flatMap((route) =>
  'commandType' in route ? [route.commandType] : [],
);

export type RouteName = keyof typeof API_ROUTES;

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
