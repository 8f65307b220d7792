import type { CommandType } from '../lanes.js';

/**
 * The command API's routes, declared once: API Gateway gets one route per
 * entry (lib/command-api.ts) and the handler's router matches the same paths.
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
} as const satisfies Record<string, { method: 'GET' | 'POST'; path: string; commandType?: CommandType }>;

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
