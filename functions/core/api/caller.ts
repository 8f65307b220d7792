import type { HouseholdRole } from '#contracts/identity.js';

/**
 * Who is calling, as AWS proved it (DESIGN §7): built by the adapter from the API Gateway
 * authorizer's context (JWT claims or the IAM caller ARN), never from the request body.
 */
export type Caller =
  /** No proven identity (only possible with `api.authorization: none`, or on a misrouted request). */
  | { readonly kind: 'anonymous' }
  /** A household user: a verified JWT. */
  | {
      readonly kind: 'household';
      readonly issuer: string;
      readonly subject: string;
      /** From the household claim; `undefined` when the token carries none (refused with 403). */
      readonly householdId: string | undefined;
      readonly role: HouseholdRole;
    }
  /** An operator or service: any IAM principal that is not a worker role. */
  | { readonly kind: 'operator'; readonly principalArn: string }
  /** A worker host: an assumed-role session of its site's worker role (contracts/identity.ts). */
  | {
      readonly kind: 'worker';
      readonly principalArn: string;
      readonly site: string;
      readonly workerId: string;
    };

/** A stable, opaque name of the caller for scoping its `Idempotency-Key`s. */
export function callerScope(caller: Caller): string {
  switch (caller.kind) {
    case 'anonymous':
      return 'anonymous';
    case 'household':
      return `jwt:${caller.issuer}|${caller.subject}`;
    case 'operator':
    case 'worker':
      return `iam:${caller.principalArn}`;
  }
}
