import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { callerOf } from '#adapters/apigateway/caller.js';
import { toApiRequest } from '#adapters/apigateway/http-api-request.js';
import type { RouteGroup } from '#contracts/api-routes.js';
import { ApiRequestError } from '#core/api/api-errors.js';
import { type ApiAuthorization, authorizeRoute, type Caller, callerScope } from '#core/api/caller.js';
import { createWorkerEventIngest, ingestWorkerEvent, receiptTimeOf } from '#core/workers/ingest.js';
import { clockSkewIssue, storableIssues } from '#core/workers/validation.js';
import { isUnstorableInputError, readApiAuthSettings } from '#wiring/api.js';
import { aHouseholdCaller, anOperatorCaller, aWorkerCaller } from '../support/api-requests.js';
import { aRecordingLogger } from '../support/factories.js';
import { aBusEvent, RecordingRunnerEventDeadLetters } from '../support/runner-event-ingest-fixtures.js';
import {
  aHeartbeat,
  anExecutionResult,
  aTaskMessage,
  InMemoryWorkerRegistry,
  InMemoryWorkerTaskStore,
  WORKER_ENV_NAME,
} from '../support/worker-fixtures.js';

function anEvent(
  authorizer?: unknown,
  overrides: Partial<APIGatewayProxyEventV2> = {},
): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'GET /x',
    rawPath: '/x',
    rawQueryString: '',
    headers: { 'Content-Type': 'application/json' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example',
      domainPrefix: 'api',
      http: { method: 'GET', path: '/x', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 't' },
      requestId: 'r-1',
      routeKey: 'GET /x',
      stage: '$default',
      time: '',
      timeEpoch: 0,
      ...(authorizer ? { authorizer } : {}),
    } as APIGatewayProxyEventV2['requestContext'],
    isBase64Encoded: false,
    ...overrides,
  };
}

const jwt = (claims: Record<string, unknown>) => ({ jwt: { claims, scopes: null } });
const iam = (userArn: string) => ({ iam: { userArn, accountId: '123456789012' } });
const WORKER_ARN = 'arn:aws:sts::123456789012:assumed-role/runlane-dev-worker-lab/w-1';

describe('callerOf: the caller API Gateway proved', () => {
  const settings = { environmentName: 'dev' };

  it('reads a household user from the JWT claims: issuer, subject, household and role', () => {
    expect(
      callerOf(
        anEvent(
          jwt({
            iss: 'https://issuer/',
            sub: 'u-1',
            'custom:household': 'hh-1',
            'custom:runlane_role': 'approver',
          }),
        ),
        settings,
      ),
    ).toEqual({
      kind: 'household',
      issuer: 'https://issuer/',
      subject: 'u-1',
      householdId: 'hh-1',
      role: 'approver',
    });
  });

  it('reads the claims configured instead of the defaults; a list claim (API Gateway passes "[a b]") holds the role', () => {
    const claims = {
      iss: 'i',
      sub: 's',
      hh: 'hh-2',
      groups: '[member approver]',
      'custom:household': 'hh-x',
    };
    expect(
      callerOf(anEvent(jwt(claims)), { ...settings, householdClaim: 'hh', roleClaim: 'groups' }),
    ).toMatchObject({
      householdId: 'hh-2',
      role: 'approver',
    });
  });

  it('makes any other role value, or none, a member, and a token without a household claim a caller without household', () => {
    expect(callerOf(anEvent(jwt({ iss: 'i', sub: 's', 'custom:runlane_role': 'admin' })), settings)).toEqual({
      kind: 'household',
      issuer: 'i',
      subject: 's',
      householdId: undefined,
      role: 'member',
    });
  });

  it('reads a worker from its site role session, an operator from any other IAM principal', () => {
    expect(callerOf(anEvent(iam(WORKER_ARN)), settings)).toEqual({
      kind: 'worker',
      principalArn: WORKER_ARN,
      site: 'lab',
      workerId: 'w-1',
    });
    const otherEnvironment = 'arn:aws:sts::123456789012:assumed-role/runlane-prod-worker-lab/w-1';
    expect(callerOf(anEvent(iam(otherEnvironment)), settings)).toEqual({
      kind: 'operator',
      principalArn: otherEnvironment,
    });
    expect(callerOf(anEvent(iam('arn:aws:iam::123456789012:user/ops')), settings)).toMatchObject({
      kind: 'operator',
    });
  });

  it('is anonymous without an authorizer, or with claims lacking iss/sub and no IAM caller', () => {
    expect(callerOf(anEvent(), settings)).toEqual({ kind: 'anonymous' });
    expect(callerOf(anEvent(jwt({ sub: 's' })), settings)).toEqual({ kind: 'anonymous' });
    expect(callerOf(anEvent({ iam: { userArn: '' } }), settings)).toEqual({ kind: 'anonymous' });
  });

  it('fills ApiRequest.caller in toApiRequest, from the authorizer and never from the body', () => {
    const request = toApiRequest(
      anEvent(iam(WORKER_ARN), { body: JSON.stringify({ worker_id: 'someone-else' }) }),
      settings,
    );
    expect(request.caller).toEqual({
      kind: 'worker',
      principalArn: WORKER_ARN,
      site: 'lab',
      workerId: 'w-1',
    });
    expect(request.headers['content-type']).toBe('application/json');
  });
});

describe('authorizeRoute: who may call a route group', () => {
  const refusal = (
    group: RouteGroup,
    caller: Caller,
    authorization: ApiAuthorization = 'iam',
    site?: string,
  ) => {
    try {
      authorizeRoute(group, caller, { authorization, site });
      return 'allowed';
    } catch (error) {
      if (!(error instanceof ApiRequestError)) throw error;
      return `${error.statusCode} ${error.code} ${error.issues[0]?.fieldPath}`;
    }
  };
  const anonymous: Caller = { kind: 'anonymous' };

  it.each<[RouteGroup, string, Caller, string]>([
    ['household', 'anonymous', anonymous, '401 unauthenticated headers.authorization'],
    ['household', 'a member', aHouseholdCaller('hh-1'), 'allowed'],
    ['household', 'an operator', anOperatorCaller(), '403 forbidden headers.authorization'],
    ['household', 'a worker', aWorkerCaller('lab'), '403 forbidden headers.authorization'],
    ['operator', 'anonymous', anonymous, '403 forbidden headers.authorization'],
    ['operator', 'a member', aHouseholdCaller('hh-1'), '403 forbidden headers.authorization'],
    ['operator', 'an operator', anOperatorCaller(), 'allowed'],
    ['operator', 'a worker', aWorkerCaller('lab'), '403 forbidden headers.authorization'],
    ['worker', 'anonymous', anonymous, '403 forbidden headers.authorization'],
    ['worker', 'a member', aHouseholdCaller('hh-1'), '403 forbidden headers.authorization'],
    ['worker', 'an operator', anOperatorCaller(), '403 forbidden headers.authorization'],
    ['worker', 'a worker of the site', aWorkerCaller('lab'), 'allowed'],
    ['worker', 'a worker of another site', aWorkerCaller('edge'), '403 wrong_site path.site'],
  ])('%s route, %s: %s', (group, _name, caller, expected) => {
    expect(refusal(group, caller, 'iam', 'lab')).toBe(expected);
  });

  it('with API_AUTHORIZATION=none lets anonymous callers be operators and unproven workers of the path’s site, never household users', () => {
    expect(authorizeRoute('operator', anonymous, { authorization: 'none' })).toMatchObject({
      kind: 'operator',
    });
    expect(authorizeRoute('worker', anonymous, { authorization: 'none', site: 'lab' })).toMatchObject({
      kind: 'worker',
      site: 'lab',
      workerId: undefined,
    });
    expect(refusal('household', anonymous, 'none')).toBe('401 unauthenticated headers.authorization');
    expect(refusal('operator', aHouseholdCaller(), 'none')).toBe('403 forbidden headers.authorization');
    expect(refusal('worker', aWorkerCaller('edge'), 'none', 'lab')).toBe('403 wrong_site path.site');
  });

  it('refuses a household token without a usable household', () => {
    const noHousehold: Caller = {
      kind: 'household',
      issuer: 'i',
      subject: 's',
      householdId: undefined,
      role: 'member',
    };
    expect(refusal('household', noHousehold)).toBe('403 household_claim_missing headers.authorization');
    expect(refusal('household', aHouseholdCaller('hh 1'))).toBe(
      '403 household_claim_invalid headers.authorization',
    );
  });
});

describe('callerScope', () => {
  it('names each caller apart: issuer and subject, or the IAM principal', () => {
    const scopes = [
      callerScope(aHouseholdCaller('hh-1', { subject: 'a' })),
      callerScope(aHouseholdCaller('hh-2', { subject: 'a', issuer: 'https://other/' })),
      callerScope(aHouseholdCaller('hh-1', { subject: 'b' })),
      callerScope(anOperatorCaller('ops')),
      callerScope(aWorkerCaller('lab', 'w-1')),
      callerScope({ kind: 'anonymous' }),
    ];
    expect(new Set(scopes).size).toBe(scopes.length);
    // The household claim is not part of who the caller is: the same user keeps its keys.
    expect(callerScope(aHouseholdCaller('hh-1', { subject: 'a' }))).toBe(
      callerScope(aHouseholdCaller('hh-9', { subject: 'a' })),
    );
  });
});

describe('readApiAuthSettings', () => {
  it('defaults to IAM, the default claims and 300 s of clock skew', () => {
    expect(readApiAuthSettings({})).toEqual({ authorization: 'iam', workerClockSkewSeconds: 300 });
  });

  it('reads API_AUTHORIZATION, JWT_HOUSEHOLD_CLAIM, JWT_ROLE_CLAIM and WORKER_CLOCK_SKEW_SECONDS', () => {
    expect(
      readApiAuthSettings({
        API_AUTHORIZATION: 'none',
        JWT_HOUSEHOLD_CLAIM: 'hh',
        JWT_ROLE_CLAIM: 'cognito:groups',
        WORKER_CLOCK_SKEW_SECONDS: '60',
      }),
    ).toEqual({
      authorization: 'none',
      householdClaim: 'hh',
      roleClaim: 'cognito:groups',
      workerClockSkewSeconds: 60,
    });
  });

  it('refuses a malformed value naming the variable', () => {
    expect(() => readApiAuthSettings({ API_AUTHORIZATION: 'open' })).toThrow(/API_AUTHORIZATION/);
    expect(() => readApiAuthSettings({ WORKER_CLOCK_SKEW_SECONDS: 'soon' })).toThrow(
      /WORKER_CLOCK_SKEW_SECONDS/,
    );
    expect(() => readApiAuthSettings({ WORKER_CLOCK_SKEW_SECONDS: '0' })).toThrow(
      /WORKER_CLOCK_SKEW_SECONDS/,
    );
  });
});

describe('isUnstorableInputError', () => {
  const named = (name: string, message: string, extra: object = {}) =>
    Object.assign(new Error(message), { name }, extra);

  it('takes DynamoDB and SDK refusals of what a request carried for the client’s, and nothing else', () => {
    expect(
      isUnstorableInputError(named('ValidationException', 'Item size has exceeded the maximum allowed size')),
    ).toBe(true);
    expect(
      isUnstorableInputError(named('Error', 'Number 1e+300 is greater than Number.MAX_SAFE_INTEGER.')),
    ).toBe(true);
    expect(
      isUnstorableInputError(
        named('TransactionCanceledException', 'Transaction cancelled', {
          CancellationReasons: [
            { Code: 'None' },
            { Code: 'ValidationError', Message: 'Item size has exceeded the maximum allowed size' },
          ],
        }),
      ),
    ).toBe(true);
    expect(
      isUnstorableInputError(
        named('TransactionCanceledException', 'Transaction cancelled', {
          CancellationReasons: [{ Code: 'ConditionalCheckFailed' }],
        }),
      ),
    ).toBe(false);
    // A malformed expression is a bug, not the client's doing.
    expect(
      isUnstorableInputError(named('ValidationException', 'Invalid UpdateExpression: Syntax error')),
    ).toBe(false);
    expect(isUnstorableInputError('Item size has exceeded')).toBe(false);
  });
});

describe('clockSkewIssue', () => {
  const arrived = new Date('2026-06-01T12:00:00.000Z');
  const ts = (offsetSeconds: number) => new Date(arrived.getTime() + offsetSeconds * 1000).toISOString();
  const check = (offsetSeconds: number, refusePast: boolean) =>
    clockSkewIssue(ts(offsetSeconds), arrived, { skewMs: 300_000, refusePast, fieldPath: 'body.ts' });

  it('refuses a time more than the skew ahead, and (heartbeats) behind; takes anything within it', () => {
    expect(check(301, false)).toEqual({
      fieldPath: 'body.ts',
      message: expect.stringContaining('301 s ahead'),
    });
    expect(check(300, true)).toBeUndefined();
    expect(check(-300, true)).toBeUndefined();
    expect(check(-301, true)).toEqual({
      fieldPath: 'body.ts',
      message: expect.stringContaining('301 s behind'),
    });
    expect(check(-86_400, false)).toBeUndefined();
  });
});

describe('storableIssues', () => {
  it('finds empty keys, deep nesting, numbers DynamoDB cannot hold and lone surrogates, by field path', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 30; i++) deep = [deep];
    expect(
      storableIssues(
        { a: { '': 1 }, b: deep, c: Number.MAX_SAFE_INTEGER + 2, d: 1e-131, e: '\uDC00', f: [0, -1.5] },
        'body',
      ).map((issue) => issue.fieldPath),
    ).toEqual(['body.a.""', `body.b${'.0'.repeat(23)}`, 'body.c', 'body.d', 'body.e']);
  });

  it('reports at most ten issues', () => {
    expect(
      storableIssues(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, { '': i }])), 'b'),
    ).toHaveLength(10);
  });
});

describe('the worker event ingest: clock skew against the event’s receipt', () => {
  const NOW = new Date('2026-06-01T12:00:00.000Z');
  const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();
  const deps = () => ({
    tasks: new InMemoryWorkerTaskStore(),
    registry: new InMemoryWorkerRegistry(),
    environment: WORKER_ENV_NAME,
    clock: { now: () => NOW },
  });

  it('refuses a heartbeat dated too far ahead or behind (clock_skew at detail.ts), and a result dated ahead; takes a late result', async () => {
    const d = deps();
    const heartbeat = (offset: number) =>
      ingestWorkerEvent({ detailType: 'WorkerHeartbeat', detail: aHeartbeat({ ts: at(offset) }) }, d);
    for (const offset of [301_000, -301_000]) {
      expect(await heartbeat(offset)).toMatchObject({
        outcome: 'rejected',
        reason: 'clock_skew',
        issues: [{ fieldPath: 'detail.ts' }],
      });
    }
    expect(await d.registry.list()).toEqual([]);
    expect(await heartbeat(-60_000)).toMatchObject({ outcome: 'heartbeat_recorded' });

    const task = await d.tasks.createQueued(aTaskMessage(), NOW);
    await d.tasks.claim({ taskId: task.taskId, workerId: 'worker-1', site: 'lab', now: NOW });
    const result = (offset: number) =>
      ingestWorkerEvent(
        { detailType: 'WorkerResult', detail: anExecutionResult(task, { ts: at(offset) }) },
        d,
      );
    expect(await result(301_000)).toMatchObject({ outcome: 'rejected', reason: 'clock_skew' });
    expect(await result(-7 * 86_400_000)).toMatchObject({ outcome: 'result_recorded', duplicate: false });
    // With its own bound.
    expect(
      await ingestWorkerEvent(
        { detailType: 'WorkerHeartbeat', detail: aHeartbeat({ ts: at(31_000) }) },
        { ...d, clockSkewSeconds: 30 },
      ),
    ).toMatchObject({ reason: 'clock_skew' });
  });

  it('measures from the event’s time (a retried delivery keeps it), never later than now; dead-letters with reason clock_skew', async () => {
    expect(receiptTimeOf({ time: at(-600_000) }, NOW)).toEqual(new Date(at(-600_000)));
    expect(receiptTimeOf({ time: at(600_000) }, NOW)).toEqual(NOW);
    expect(receiptTimeOf({ time: 'yesterday' }, NOW)).toEqual(NOW);

    const deadLetters = new RecordingRunnerEventDeadLetters();
    const ingest = createWorkerEventIngest({ ...deps(), deadLetters, logger: aRecordingLogger() });
    // Received ten minutes ago, delivered now: a heartbeat dated at its receipt is on time.
    const delayed = aBusEvent(aHeartbeat({ ts: at(-600_000) }), 'WorkerHeartbeat', { time: at(-600_000) });
    expect(await ingest(delayed)).toMatchObject({ outcome: 'heartbeat_recorded' });
    // A sender's time in the future does not widen the window.
    const future = aBusEvent(aHeartbeat({ ts: at(3_600_000) }), 'WorkerHeartbeat', { time: at(3_600_000) });
    expect(await ingest(future)).toMatchObject({ outcome: 'rejected', reason: 'clock_skew' });
    expect(deadLetters.sent).toEqual([
      expect.objectContaining({ reason: 'clock_skew', detailType: 'WorkerHeartbeat' }),
    ]);
  });
});
