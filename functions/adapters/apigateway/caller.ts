import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { DEFAULT_JWT_CLAIMS, type HouseholdRole, workerOfCallerArn } from '#contracts/identity.js';
import type { Caller } from '#core/api/caller.js';

/** What the adapter needs to read a caller out of the authorizer context. */
export interface CallerSettings {
  /** `RUNLANE_ENVIRONMENT`: worker roles are `runlane-<env>-worker-<site>`. */
  readonly environmentName: string;
  /** @default DEFAULT_JWT_CLAIMS.household */
  readonly householdClaim?: string;
  /** @default DEFAULT_JWT_CLAIMS.role */
  readonly roleClaim?: string;
}

interface AuthorizerContext {
  readonly jwt?: { readonly claims?: Record<string, unknown> };
  readonly iam?: { readonly userArn?: string | null };
}

/**
 * The caller API Gateway proved: `requestContext.authorizer.jwt.claims` behind a JWT authorizer,
 * `requestContext.authorizer.iam.userArn` behind the IAM authorizer (payload format 2.0). The
 * local gateway fills the same fields after verifying the token or the signature.
 *
 * @example
 * const caller = callerOf(event, { environmentName: 'dev' });
 */
export function callerOf(event: APIGatewayProxyEventV2, settings: CallerSettings): Caller {
  const authorizer = (event.requestContext as { authorizer?: AuthorizerContext }).authorizer;
  const claims = authorizer?.jwt?.claims;
  if (claims) {
    const issuer = stringClaim(claims.iss);
    const subject = stringClaim(claims.sub);
    if (issuer && subject) {
      return {
        kind: 'household',
        issuer,
        subject,
        householdId: stringClaim(claims[settings.householdClaim ?? DEFAULT_JWT_CLAIMS.household]),
        role: roleOf(claims[settings.roleClaim ?? DEFAULT_JWT_CLAIMS.role]),
      };
    }
  }
  const arn = authorizer?.iam?.userArn;
  if (typeof arn === 'string' && arn.length > 0) {
    const worker = workerOfCallerArn(arn, settings.environmentName);
    return worker
      ? { kind: 'worker', principalArn: arn, ...worker }
      : { kind: 'operator', principalArn: arn };
  }
  return { kind: 'anonymous' };
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * `approver` when the role claim holds it: a plain string, or a list (API Gateway passes a list
 * claim such as `cognito:groups` as `[a b]`).
 */
function roleOf(value: unknown): HouseholdRole {
  const values = Array.isArray(value)
    ? value.map(String)
    : typeof value === 'string'
      ? value.split(/[\s,[\]]+/)
      : [];
  return values.includes('approver') ? 'approver' : 'member';
}
