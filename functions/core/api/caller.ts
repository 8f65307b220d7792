import type { RouteGroup } from '#contracts/api-routes.js';
import type { HouseholdRole } from '#contracts/identity.js';
import { ApiRequestError } from './api-errors.js';

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

/**
 * `API_AUTHORIZATION`: `iam` (API Gateway's IAM authorizer proves every operator and worker
 * caller) or `none` (sandbox only, refused for prod at synth: the IAM routes have no authorizer,
 * so an anonymous caller of an operator route is an operator, and of a worker route the worker its
 * body names at the path's site). Household routes always need a JWT.
 */
export type ApiAuthorization = 'iam' | 'none';

/** What the anonymous caller is called where a principal is recorded (API_AUTHORIZATION=none). */
export const UNPROVEN_PRINCIPAL = 'anonymous (API_AUTHORIZATION=none)';

/** A caller allowed on a route of its group, with what the route's handler needs of it. */
export type AuthorizedCaller =
  | {
      readonly kind: 'household';
      readonly issuer: string;
      readonly subject: string;
      /** The token's household: the only one the caller can post for or read. */
      readonly householdId: string;
      readonly role: HouseholdRole;
    }
  | { readonly kind: 'operator'; readonly principal: string }
  | {
      readonly kind: 'worker';
      readonly principal: string;
      /** The path's site, which the caller's role is for. */
      readonly site: string;
      /** The role session's worker id; `undefined` when unproven (API_AUTHORIZATION=none): the body's is taken. */
      readonly workerId: string | undefined;
    };

/** Where an authorization refusal points: the credentials the request came with. */
export const CREDENTIALS_FIELD = 'headers.authorization';

const HOUSEHOLD_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The caller, if its kind may call a route of `group` (DESIGN §7); a 401/403 naming what is
 * missing otherwise:
 * - `household` routes: a household caller whose token names a household (401 `unauthenticated`
 *   without one, 403 `forbidden` for any other kind, 403 `household_claim_missing` /
 *   `household_claim_invalid`);
 * - `operator` routes: an operator (403 `forbidden` otherwise; anonymous passes with
 *   `authorization: 'none'`);
 * - `worker` routes: a worker whose role is the path's site (403 `wrong_site` at `path.site`;
 *   anonymous passes with `authorization: 'none'` as an unproven worker of the path's site).
 *
 * @example
 * authorizeRoute('worker', { kind: 'worker', principalArn, site: 'lab', workerId: 'w-1' }, { authorization: 'iam', site: 'lab' });
 * // { kind: 'worker', principal: principalArn, site: 'lab', workerId: 'w-1' }
 */
export function authorizeRoute(
  group: RouteGroup,
  caller: Caller,
  options: { readonly authorization: ApiAuthorization; readonly site?: string | undefined },
): AuthorizedCaller {
  switch (group) {
    case 'household': {
      if (caller.kind === 'anonymous') {
        throw ApiRequestError.single(
          401,
          'unauthenticated',
          CREDENTIALS_FIELD,
          'this route needs a bearer token (JWT) of a household user',
        );
      }
      if (caller.kind !== 'household') throw forbidden(group);
      if (caller.householdId === undefined) {
        throw ApiRequestError.single(
          403,
          'household_claim_missing',
          CREDENTIALS_FIELD,
          'the token names no household',
        );
      }
      if (!HOUSEHOLD_ID_PATTERN.test(caller.householdId)) {
        throw ApiRequestError.single(
          403,
          'household_claim_invalid',
          CREDENTIALS_FIELD,
          "the token's household is not 1-128 letters, digits, _ or -",
        );
      }
      return {
        kind: 'household',
        issuer: caller.issuer,
        subject: caller.subject,
        householdId: caller.householdId,
        role: caller.role,
      };
    }
    case 'operator':
      if (caller.kind === 'operator') return { kind: 'operator', principal: caller.principalArn };
      if (caller.kind === 'anonymous' && options.authorization === 'none') {
        return { kind: 'operator', principal: UNPROVEN_PRINCIPAL };
      }
      throw forbidden(group);
    case 'worker': {
      const site = options.site ?? '';
      if (caller.kind === 'worker') {
        if (caller.site !== site) {
          throw ApiRequestError.single(
            403,
            'wrong_site',
            'path.site',
            `this caller is a worker of site ${caller.site}, not ${site}`,
          );
        }
        return { kind: 'worker', principal: caller.principalArn, site, workerId: caller.workerId };
      }
      if (caller.kind === 'anonymous' && options.authorization === 'none') {
        return { kind: 'worker', principal: UNPROVEN_PRINCIPAL, site, workerId: undefined };
      }
      throw forbidden(group);
    }
  }
}

function forbidden(group: RouteGroup): ApiRequestError {
  const who = {
    household: 'household users (a JWT)',
    operator: 'operators (IAM)',
    worker: "worker hosts (IAM, their site's worker role)",
  }[group];
  return ApiRequestError.single(403, 'forbidden', CREDENTIALS_FIELD, `this route is for ${who}`);
}
