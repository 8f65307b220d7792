/**
 * The IAM policies the deployed stack gives its principals, as the local gateway applies them
 * after a signature checks out: a site's worker role may invoke only `POST
 * /api/workers/sites/<its site>/*`, the operator every IAM route, a runner host none.
 */
import type { RouteGroup } from '#contracts/api-routes.js';
import { workerOfCallerArn } from '#contracts/identity.js';
import { LOCAL_ENVIRONMENT } from '../stack/environment-name.js';
import type { LocalPrincipal } from './auth-folder.js';

/** The route a request matched: its group and its path parameters (as sent, still encoded). */
export interface MatchedRoute {
  readonly group: RouteGroup;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Whether the principal's policy allows `execute-api:Invoke` on the route: the operator's every
 * IAM route, a site worker role's only its own site's worker routes, a runner or supervisor
 * host's (the agent reporter policy: PutEvents only) none.
 *
 * @example
 * mayInvoke({ name: 'worker/lab/w-1', arn: 'arn:aws:sts::000000000000:assumed-role/runlane-local-worker-lab/w-1' },
 *   { group: 'worker', params: { site: 'lab' } }); // true
 */
export function mayInvoke(principal: Pick<LocalPrincipal, 'name' | 'arn'>, route: MatchedRoute): boolean {
  if (route.group === 'household') return false;
  if (principal.name === 'operator') return true;
  const worker = workerOfCallerArn(principal.arn, LOCAL_ENVIRONMENT);
  if (!principal.name.startsWith('worker/') || !worker) return false;
  return route.group === 'worker' && decoded(route.params.site ?? '') === worker.site;
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
