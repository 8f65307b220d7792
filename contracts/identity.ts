/**
 * How a caller's identity is proven (DESIGN §7), shared by the CDK (which creates the roles and
 * the JWT authorizer), the API (which reads the proven identity) and the local stack (which
 * proves it the same way).
 *
 * Worker hosts: one IAM role per site, `runlane-<env>-worker-<site>`, assumed with the worker's id
 * as the role session name. API Gateway's IAM authorizer proves the caller's ARN,
 * `arn:aws:sts::<account>:assumed-role/runlane-<env>-worker-<site>/<worker_id>`: the site is the
 * role's, the worker id the session's. A body naming another site or worker is refused.
 */

/** Role name of a site's worker hosts: `runlane-<env>-worker-<site>`. */
export function workerRoleName(environmentName: string, site: string): string {
  return `${workerRolePrefix(environmentName)}${site}`;
}

/** Every worker role name of an environment starts with this. */
export function workerRolePrefix(environmentName: string): string {
  return `runlane-${environmentName}-worker-`;
}

/**
 * The worker behind an IAM caller ARN, when it is an assumed-role session of a site's worker role
 * of this environment; `undefined` for any other principal.
 *
 * @example
 * workerOfCallerArn('arn:aws:sts::123456789012:assumed-role/runlane-dev-worker-lab/w-1', 'dev'); // { site: 'lab', workerId: 'w-1' }
 */
export function workerOfCallerArn(
  arn: string,
  environmentName: string,
): { readonly site: string; readonly workerId: string } | undefined {
  const match = /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\/([^/]+)\/([^/]+)$/.exec(arn);
  const [, role, session] = match ?? [];
  const prefix = workerRolePrefix(environmentName);
  if (!role || !session || !role.startsWith(prefix) || role.length === prefix.length) return undefined;
  return { site: role.slice(prefix.length), workerId: session };
}

/** The JWT claims household routes read, unless `auth.jwt` in cdk.json names others. */
export const DEFAULT_JWT_CLAIMS = {
  /** The household the user belongs to. */
  household: 'custom:household',
  /** `approver` may decide approvals; anything else (or nothing) is a member. */
  role: 'custom:runlane_role',
} as const;

/** Roles a household user can hold. */
export const HOUSEHOLD_ROLES = ['member', 'approver'] as const;
export type HouseholdRole = (typeof HOUSEHOLD_ROLES)[number];
