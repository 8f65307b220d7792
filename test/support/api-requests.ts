import { randomUUID } from 'node:crypto';
import { workerRoleName } from '#contracts/identity.js';
import type { Caller } from '#core/api/caller.js';
import type { ApiRequest } from '#core/api/command-api.js';

/**
 * Callers as API Gateway's authorizers prove them (`callerOf`), and requests that carry one, for
 * tests that call the API module directly.
 */

/** The issuer of the test JWTs (any string: the core trusts what the authorizer verified). */
export const TEST_ISSUER = 'https://auth.runlane.test/';
/** The account in the test principals' ARNs. */
const ACCOUNT = '000000000000';

/** A household user (role `member` unless told) of `householdId`; subject `<householdId>-member`. */
export function aHouseholdCaller(
  householdId = 'hh-1',
  overrides: {
    readonly role?: 'member' | 'approver';
    readonly subject?: string;
    readonly issuer?: string;
  } = {},
): Caller {
  const role = overrides.role ?? 'member';
  return {
    kind: 'household',
    issuer: overrides.issuer ?? TEST_ISSUER,
    subject: overrides.subject ?? `${householdId}-${role}`,
    householdId,
    role,
  };
}

/** A household user with the approver role; subject `alice` unless told. */
export function anApprover(householdId = 'hh-1', subject = 'alice'): Caller {
  return aHouseholdCaller(householdId, { role: 'approver', subject });
}

/** An operator: an IAM user that is no worker role. */
export function anOperatorCaller(name = 'runlane-operator'): Caller {
  return { kind: 'operator', principalArn: `arn:aws:iam::${ACCOUNT}:user/${name}` };
}

/** A worker host: a session of its site's worker role, named by its worker id. */
export function aWorkerCaller(site = 'lab', workerId = 'worker-1', environment = 'test'): Caller {
  return {
    kind: 'worker',
    principalArn: `arn:aws:sts::${ACCOUNT}:assumed-role/${workerRoleName(environment, site)}/${workerId}`,
    site,
    workerId,
  };
}

export const ANONYMOUS: Caller = { kind: 'anonymous' };

/**
 * A request for the API; a `body` object is sent as JSON (with its content type), a string as is.
 *
 * @example
 * await api(anApiRequest('POST', '/api/v1/agent/conversations/c/messages', { caller: aHouseholdCaller(), body: { text: 'hi' } }));
 */
export function anApiRequest(
  method: string,
  path: string,
  options: {
    readonly caller: Caller;
    readonly body?: unknown;
    readonly headers?: Record<string, string>;
    readonly query?: Record<string, string>;
  },
): ApiRequest {
  const { body } = options;
  return {
    method,
    path,
    headers: options.headers ?? (body === undefined ? {} : { 'content-type': 'application/json' }),
    query: options.query ?? {},
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    requestId: randomUUID(),
    caller: options.caller,
  };
}
