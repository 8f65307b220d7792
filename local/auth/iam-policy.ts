/**
 * The IAM policies the deployed stack gives its principals, as the local gateway applies them
 * after a signature checks out: a site's worker role may invoke only `POST
 * /api/workers/sites/<its site>/*`; any other principal (the operator) every IAM route.
 */
import type { RouteGroup } from '#contracts/api-routes.js';
import { workerOfCallerArn } from '#contracts/identity.js';
import { LOCAL_ENVIRONMENT } from '../stack/options.js';

/** The route a request matched: its group and its path parameters (as sent, still encoded). */
export interface MatchedRoute {
  readonly group: RouteGroup;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Whether the principal's policy allows `execute-api:Invoke` on the route.
 *
 * @example
 * mayInvoke('arn:aws:sts::000000000000:assumed-role/runlane-local-worker-lab/w-1', { group: 'worker', params: { site: 'lab' } }); // true
 */
export function mayInvoke(principalArn: string, route: MatchedRoute): boolean {
  const worker = workerOfCallerArn(principalArn, LOCAL_ENVIRONMENT);
  if (!worker) return route.group !== 'household';
  return route.group === 'worker' && decoded(route.params.site ?? '') === worker.site;
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
