/**
 * The command API's routes, declared once: API Gateway gets one route per
 * entry (lib/command-api.ts) and the handler's router matches the same paths.
 */
export const API_ROUTES = {
  postMessage: { method: 'POST', path: '/api/v1/agent/conversations/{conversationId}/messages' },
  postApproval: {
    method: 'POST',
    path: '/api/v1/agent/conversations/{conversationId}/approvals/{approvalId}',
  },
  getRun: { method: 'GET', path: '/api/v1/runs/{runId}' },
  listRuns: { method: 'GET', path: '/api/v1/runs' },
  reviewQueue: { method: 'GET', path: '/api/v1/review-queue' },
} as const satisfies Record<string, { method: 'GET' | 'POST'; path: string }>;

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
