import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, type RouteName, workerRoutePath } from '#contracts/api-routes.js';
import { LANES } from '#contracts/lanes.js';
import { keys } from '#contracts/tables.js';
import type { Caller } from '#core/api/caller.js';
import type { ApiResponse } from '#core/api/command-api.js';
import { buildCommandApi } from '#wiring/api.js';
import {
  ANONYMOUS,
  aHouseholdCaller,
  anApiRequest,
  anApprover,
  anOperatorCaller,
  aWorkerCaller,
} from '../support/api-requests.js';
import { anEnvelope } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { aHeartbeat, anExecutionResult } from '../support/worker-fixtures.js';

const LANE = 'runtime-agent-message-posted';
const APPROVAL = 'apr-000000000000000000000abc';

/** A request to a route that gets past validation far enough to show the route's authorization. */
function routeRequest(route: RouteName, caller: Caller) {
  const workerId = caller.kind === 'worker' ? caller.workerId : 'worker-1';
  const post = (path: string, body: unknown) => anApiRequest('POST', path, { caller, body });
  const get = (path: string, query: Record<string, string> = {}) =>
    anApiRequest('GET', path, { caller, query });
  switch (route) {
    case 'postMessage':
      return post('/api/v1/agent/conversations/conv-m/messages', { text: 'hello' });
    case 'postApproval':
      return post(`/api/v1/agent/conversations/conv-m/approvals/${APPROVAL}`, { decision: 'approve' });
    case 'getHouseholdRun':
      return get(`/api/v1/agent/runs/${randomUUID()}`);
    case 'listHouseholdRuns':
      return get('/api/v1/agent/runs', { correlationId: 'agent:hh-1:conv-m:x' });
    case 'getRun':
      return get(`/api/v1/runs/${randomUUID()}`);
    case 'listRuns':
      return get('/api/v1/runs', { correlationId: 'agent:hh-1:conv-m:x' });
    case 'reviewQueue':
      return get('/api/v1/review-queue');
    case 'claimWorkerTask':
      return post(workerRoutePath('claimWorkerTask', 'lab', randomUUID()), {
        worker_id: workerId,
        site: 'lab',
        attempt: 1,
      });
    case 'postWorkerResult':
      return post(
        workerRoutePath('postWorkerResult', 'lab'),
        anExecutionResult({ taskId: randomUUID() }, { environment: 'local', worker_id: workerId }),
      );
    case 'postWorkerHeartbeat':
      return post(
        workerRoutePath('postWorkerHeartbeat', 'lab'),
        aHeartbeat({ environment: 'local', worker_id: workerId, ts: new Date().toISOString() }),
      );
    case 'workerHealth':
      return get('/api/workers/health');
    case 'workerMetrics':
      return get('/api/workers/metrics');
    case 'getWorkerDelegation':
      return get('/api/workers/delegation');
    case 'putWorkerDelegation':
      // Refused with 409 while no worker is online: authorized, and nothing changes.
      return anApiRequest('PUT', '/api/workers/delegation', { caller, body: { enabled: true } });
  }
}

const CALLERS: Record<string, Caller> = {
  anonymous: ANONYMOUS,
  'household member': aHouseholdCaller('hh-1'),
  'household member of another household': aHouseholdCaller('hh-2'),
  approver: anApprover('hh-1'),
  operator: anOperatorCaller(),
  'worker of the path’s site': aWorkerCaller('lab', 'worker-1', 'local'),
  'worker of another site': aWorkerCaller('edge', 'worker-1', 'local'),
};

type Expected = 'allowed' | { readonly status: 401 | 403; readonly error: string };

const UNAUTHENTICATED = { status: 401, error: 'unauthenticated' } as const;
const FORBIDDEN = { status: 403, error: 'forbidden' } as const;

/** Who may call each route group with API_AUTHORIZATION=iam (DESIGN §7). */
function expectedFor(route: RouteName, callerName: string): Expected {
  const group = API_ROUTES[route].group;
  const kind = CALLERS[callerName]?.kind;
  if (group === 'household') {
    if (kind === 'anonymous') return UNAUTHENTICATED;
    if (kind !== 'household') return FORBIDDEN;
    if (route === 'postApproval' && callerName !== 'approver') {
      return { status: 403, error: 'approver_role_required' };
    }
    return 'allowed';
  }
  if (group === 'operator') return kind === 'operator' ? 'allowed' : FORBIDDEN;
  if (kind !== 'worker') return FORBIDDEN;
  return callerName === 'worker of the path’s site' ? 'allowed' : { status: 403, error: 'wrong_site' };
}

function expectRefusal(response: ApiResponse, status: number, error: string, fieldPath: string) {
  expect(response.statusCode).toBe(status);
  expect(JSON.parse(response.body)).toMatchObject({ error, fieldPath, message: expect.any(String) });
}

describe('who may call what: every route × every kind of caller, on the emulators', () => {
  let pipeline: Pipeline;
  let sandboxApi: ReturnType<typeof buildCommandApi>;

  beforeAll(async () => {
    pipeline = await createPipeline();
    sandboxApi = buildCommandApi(
      {
        tableName: pipeline.tableName,
        queueUrls: Object.fromEntries(LANES.map((lane) => [lane.name, pipeline.queues[lane.name].queueUrl])),
        maxBodyBytes: 32_768,
        authorization: 'none',
      },
      { documents: pipeline.documents, sqs: pipeline.sqs },
      pipeline.logger,
    );
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  async function queueDepth(): Promise<number> {
    const result = await pipeline.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: pipeline.queues[LANE].queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(result.Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(result.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  }

  it('answers each route as its group allows (API_AUTHORIZATION=iam): 0 unexpected allows, 0 unexpected refusals', async () => {
    const unexpected: string[] = [];
    let allowed = 0;
    for (const route of Object.keys(API_ROUTES) as RouteName[]) {
      for (const [callerName, caller] of Object.entries(CALLERS)) {
        const response = await pipeline.api(routeRequest(route, caller));
        const body = JSON.parse(response.body);
        const expected = expectedFor(route, callerName);
        const what = `${route} by ${callerName}: ${response.statusCode} ${body.error ?? ''}`;
        if (expected === 'allowed') {
          allowed += 1;
          if (response.statusCode === 401 || response.statusCode === 403 || response.statusCode >= 500) {
            unexpected.push(`${what} (expected to be allowed)`);
          }
        } else if (response.statusCode !== expected.status || body.error !== expected.error) {
          unexpected.push(`${what} (expected ${expected.status} ${expected.error})`);
        } else if (typeof body.fieldPath !== 'string' || body.fieldPath === '') {
          unexpected.push(`${what} (no field path)`);
        }
      }
    }
    expect(unexpected).toEqual([]);
    // Some of every group was let through (the test would pass vacuously otherwise).
    expect(allowed).toBeGreaterThanOrEqual(15);
    await pipeline.drain(LANE);
  });

  it('with API_AUTHORIZATION=none lets anonymous callers use operator and worker routes, never household routes', async () => {
    for (const route of Object.keys(API_ROUTES) as RouteName[]) {
      const response = await sandboxApi(routeRequest(route, ANONYMOUS));
      const body = JSON.parse(response.body);
      if (API_ROUTES[route].group === 'household') {
        expect(response.statusCode, route).toBe(401);
        expect(body.error, route).toBe('unauthenticated');
      } else {
        expect([401, 403], `${route}: ${response.statusCode} ${body.error}`).not.toContain(
          response.statusCode,
        );
        expect(response.statusCode, route).toBeLessThan(500);
      }
    }
    // An anonymous worker is the worker its body names, at the path's site only.
    const heartbeat = aHeartbeat({
      environment: 'local',
      worker_id: 'sandbox-1',
      ts: new Date().toISOString(),
    });
    const accepted = await sandboxApi(
      anApiRequest('POST', workerRoutePath('postWorkerHeartbeat', 'lab'), {
        caller: ANONYMOUS,
        body: heartbeat,
      }),
    );
    expect(accepted.statusCode).toBe(202);
    expectRefusal(
      await sandboxApi(
        anApiRequest('POST', workerRoutePath('postWorkerHeartbeat', 'edge'), {
          caller: ANONYMOUS,
          body: heartbeat,
        }),
      ),
      403,
      'wrong_site',
      'body.site',
    );
    // A proven caller of another kind is still refused.
    expectRefusal(
      await sandboxApi(routeRequest('reviewQueue', aHouseholdCaller())),
      403,
      'forbidden',
      'headers.authorization',
    );
  });

  describe('household users', () => {
    it('posts for the household of the token; a body naming another household is 403 and queues nothing', async () => {
      const before = await queueDepth();
      const refused = await pipeline.api(
        anApiRequest('POST', '/api/v1/agent/conversations/conv-h/messages', {
          caller: aHouseholdCaller('hh-1'),
          body: { householdId: 'hh-2', text: 'hello' },
        }),
      );
      expectRefusal(refused, 403, 'household_mismatch', 'body.householdId');
      expect(await queueDepth()).toBe(before);

      const accepted = await pipeline.api(
        anApiRequest('POST', '/api/v1/agent/conversations/conv-h/messages', {
          caller: aHouseholdCaller('hh-1'),
          body: { text: 'hello' },
        }),
      );
      expect(accepted.statusCode).toBe(202);
      const { commandId, correlationId } = JSON.parse(accepted.body);
      expect(correlationId).toBe(`agent:hh-1:conv-h:${commandId}`);
      await pipeline.drain(LANE);
      expect((await pipeline.store.getRun(commandId))?.run.householdId).toBe('hh-1');
    });

    it("writes a message as the token's subject: a body authorId naming someone else is 403", async () => {
      const path = '/api/v1/agent/conversations/conv-author/messages';
      const caller = aHouseholdCaller('hh-1', { subject: 'alice' });
      const before = await queueDepth();
      expectRefusal(
        await pipeline.api(anApiRequest('POST', path, { caller, body: { text: 'hi', authorId: 'bob' } })),
        403,
        'author_mismatch',
        'body.authorId',
      );
      expect(await queueDepth()).toBe(before);
      const accepted = await pipeline.api(anApiRequest('POST', path, { caller, body: { text: 'hi' } }));
      expect(accepted.statusCode).toBe(202);
      const { commandId } = JSON.parse(accepted.body);
      await pipeline.drain(LANE);
      const run = await pipeline.store.getRun(commandId);
      const message = await pipeline.documents.send(
        new GetCommand({
          TableName: pipeline.tableName,
          Key: keys.conversationMessage('conv-author', run?.run.issuedAt ?? '', commandId),
        }),
      );
      expect(message.Item?.authorId).toBe('alice');
    });

    it('refuses a token without a usable household claim with 403', async () => {
      const path = '/api/v1/agent/conversations/conv-h/messages';
      expectRefusal(
        await pipeline.api(
          anApiRequest('POST', path, {
            caller: { ...aHouseholdCaller('hh-1'), householdId: undefined } as Caller,
            body: { text: 'x' },
          }),
        ),
        403,
        'household_claim_missing',
        'headers.authorization',
      );
      expectRefusal(
        await pipeline.api(
          anApiRequest('POST', path, { caller: aHouseholdCaller('a:b c'), body: { text: 'x' } }),
        ),
        403,
        'household_claim_invalid',
        'headers.authorization',
      );
    });

    it("reads only the household's own runs: another household's run is 404 like an unknown one, and lists leave it out", async () => {
      const posted = await pipeline.api(
        anApiRequest('POST', '/api/v1/agent/conversations/conv-read/messages', {
          caller: aHouseholdCaller('hh-1'),
          body: { text: 'remind me to call the bank' },
        }),
      );
      const { commandId, correlationId, runUrl } = JSON.parse(posted.body);
      await pipeline.drain(LANE);
      expect(runUrl).toBe(`/api/v1/agent/runs/${commandId}`);

      const own = await pipeline.api(anApiRequest('GET', runUrl, { caller: aHouseholdCaller('hh-1') }));
      expect(own.statusCode).toBe(200);
      expect(JSON.parse(own.body)).toMatchObject({ runId: commandId, householdId: 'hh-1' });

      const other = await pipeline.api(anApiRequest('GET', runUrl, { caller: aHouseholdCaller('hh-2') }));
      const unknown = await pipeline.api(
        anApiRequest('GET', `/api/v1/agent/runs/${randomUUID()}`, { caller: aHouseholdCaller('hh-2') }),
      );
      expectRefusal(other, 404, 'run_not_found', 'path.runId');
      expect(JSON.parse(other.body).message).toBe(JSON.parse(unknown.body).message);

      const list = (caller: Caller) =>
        pipeline.api(anApiRequest('GET', '/api/v1/agent/runs', { caller, query: { correlationId } }));
      expect(JSON.parse((await list(aHouseholdCaller('hh-1'))).body).runs).toEqual([
        expect.objectContaining({ runId: commandId }),
      ]);
      expect(JSON.parse((await list(aHouseholdCaller('hh-2'))).body)).toEqual({ correlationId, runs: [] });
      // Operators read any household's run.
      const operator = await pipeline.api(
        anApiRequest('GET', `/api/v1/runs/${commandId}`, { caller: anOperatorCaller() }),
      );
      expect(operator.statusCode).toBe(200);
    });
  });

  describe('approvals', () => {
    /** A Pending approval of hh-ap in conversation `conv-ap`, requested by a completed run. */
    async function aPendingApproval(): Promise<string> {
      const posted = await pipeline.api(
        anApiRequest('POST', '/api/v1/agent/conversations/conv-ap/messages', {
          caller: aHouseholdCaller('hh-ap'),
          body: { text: 'transfer 40 to savings' },
        }),
      );
      const { commandId } = JSON.parse(posted.body);
      await pipeline.drain(LANE);
      const approvalIds = (
        (await pipeline.store.getRun(commandId))?.run.result as { approvalIds?: string[] } | undefined
      )?.approvalIds;
      expect(approvalIds).toHaveLength(1);
      return approvalIds?.[0] ?? '';
    }

    const decide = (approvalId: string, caller: Caller, body: unknown, conversationId = 'conv-ap') =>
      pipeline.api(
        anApiRequest('POST', `/api/v1/agent/conversations/${conversationId}/approvals/${approvalId}`, {
          caller,
          body,
        }),
      );

    it('takes a decision only from an approver of the household, as the token’s subject, in the approval’s conversation', async () => {
      const approvalId = await aPendingApproval();
      const before = await queueDepth();
      expectRefusal(
        await decide(approvalId, aHouseholdCaller('hh-ap'), { decision: 'approve' }),
        403,
        'approver_role_required',
        'headers.authorization',
      );
      expectRefusal(
        await decide(approvalId, anApprover('hh-other', 'eve'), { decision: 'approve' }),
        404,
        'approval_not_found',
        'path.approvalId',
      );
      expectRefusal(
        await decide(approvalId, anApprover('hh-ap', 'alice'), { decision: 'approve' }, 'conv-elsewhere'),
        403,
        'conversation_mismatch',
        'path.conversationId',
      );
      expectRefusal(
        await decide(approvalId, anApprover('hh-ap', 'alice'), { decision: 'approve', decidedBy: 'bob' }),
        403,
        'decided_by_mismatch',
        'body.decidedBy',
      );
      expectRefusal(
        await decide(approvalId, anApprover('hh-ap', 'alice'), { decision: 'approve', householdId: 'hh-x' }),
        403,
        'household_mismatch',
        'body.householdId',
      );
      expectRefusal(
        await decide('apr-0000000000000000000000ff', anApprover('hh-ap', 'alice'), { decision: 'approve' }),
        404,
        'approval_not_found',
        'path.approvalId',
      );
      expect(await queueDepth()).toBe(before);
      expect(await pipeline.actions.history('hh-ap')).toEqual([]);

      // The approver's own decision: decidedBy is the subject (naming it in the body is allowed).
      const accepted = await decide(approvalId, anApprover('hh-ap', 'alice'), {
        decision: 'approve',
        decidedBy: 'alice',
      });
      expect(accepted.statusCode).toBe(202);
      await pipeline.drain(LANE);
      const run = (await pipeline.store.getRun(JSON.parse(accepted.body).commandId))?.run;
      expect(run).toMatchObject({ status: 'Completed', result: { approvalId, executedNow: true } });
      expect(run?.stages.at(-1)?.rationale).toBe('transfer_funds executed after approval by alice');
    });

    it('writes the token’s subject as decidedBy when the body names none', async () => {
      const approvalId = await aPendingApproval();
      const accepted = await decide(approvalId, anApprover('hh-ap', 'subject-7'), { decision: 'reject' });
      expect(accepted.statusCode).toBe(202);
      await pipeline.drain(LANE);
      const run = (await pipeline.store.getRun(JSON.parse(accepted.body).commandId))?.run;
      expect(run?.stages.at(-1)).toMatchObject({
        outcomeCode: 'approval_rejected',
        rationale: 'reject by subject-7',
      });
    });
  });

  describe('Idempotency-Key, per caller', () => {
    const post = (caller: Caller, key: string, text: string) =>
      pipeline.api(
        anApiRequest('POST', '/api/v1/agent/conversations/conv-k/messages', {
          caller,
          body: { text },
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
        }),
      );

    it('keeps two callers’ keys apart: the same header value names a command of each, and neither sees the other’s', async () => {
      const key = `shared-${randomUUID()}`;
      const ann = aHouseholdCaller('hh-1', { subject: 'ann' });
      const ben = aHouseholdCaller('hh-1', { subject: 'ben' });
      const first = JSON.parse((await post(ann, key, 'pay the plumber')).body);
      // Another caller, same key, another body: its own command, not 422 and not Ann's command.
      const other = await post(ben, key, 'book the vet');
      expect(other.statusCode).toBe(202);
      const second = JSON.parse(other.body);
      expect(second.commandId).not.toBe(first.commandId);
      expect(second.idempotentReplay).toBe(false);
      // Ben sending Ann's exact request does not learn Ann's command either.
      const probe = JSON.parse(
        (await post(aHouseholdCaller('hh-1', { subject: 'cid' }), key, 'pay the plumber')).body,
      );
      expect(probe.commandId).not.toBe(first.commandId);
      expect(probe.idempotentReplay).toBe(false);
      // Each caller's retry is answered from its own key.
      const retry = JSON.parse((await post(ann, key, 'pay the plumber')).body);
      expect(retry).toMatchObject({ commandId: first.commandId, idempotentReplay: true });
      expect((await post(ann, key, 'something else')).statusCode).toBe(422);
      // The stored key is not the header value.
      const raw = await pipeline.documents.send(
        new GetCommand({ TableName: pipeline.tableName, Key: keys.clientKey(key), ConsistentRead: true }),
      );
      expect(raw.Item).toBeUndefined();
      await pipeline.drain(LANE);
    });

    it('scopes by issuer too: the same subject from another issuer is another caller', async () => {
      const key = `issuer-${randomUUID()}`;
      const a = JSON.parse((await post(aHouseholdCaller('hh-1', { subject: 'sam' }), key, 'hello')).body);
      const b = JSON.parse(
        (
          await post(
            aHouseholdCaller('hh-1', { subject: 'sam', issuer: 'https://other.example/' }),
            key,
            'hello',
          )
        ).body,
      );
      expect(b.commandId).not.toBe(a.commandId);
      expect(b.idempotentReplay).toBe(false);
      await pipeline.drain(LANE);
    });
  });

  describe('no 5xx from input', () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const wellFormed = {
      pk: `RUN#${randomUUID()}`,
      sk: 'RUN',
      reviewQueue: 'NeedsReview',
      needsReviewSince: '2026-01-01T00:00:00.000Z',
    };

    it.each<[string, string]>([
      ['a key without the index attributes', encode({ pk: 'RUN#x', sk: 'RUN' })],
      ['a key of another entity', encode({ ...wellFormed, pk: 'CLIENTKEY#k', sk: 'CLIENTKEY' })],
      ['another index partition', encode({ ...wellFormed, reviewQueue: 'Other' })],
      ['a sort key that is no time', encode({ ...wellFormed, needsReviewSince: 'x' })],
      ['an extra attribute', encode({ ...wellFormed, extra: 'x' })],
      ['a number where a string belongs', encode({ ...wellFormed, needsReviewSince: 5 })],
      ['an empty string', encode({ ...wellFormed, pk: '' })],
      ['a list', encode([wellFormed])],
      ['JSON null', encode(null)],
      ['not base64 JSON', 'bm90IGpzb24'],
    ])('answers a forged review cursor (%s) with 400 invalid_cursor', async (_name, cursor) => {
      const response = await pipeline.api(
        anApiRequest('GET', '/api/v1/review-queue', { caller: anOperatorCaller(), query: { cursor } }),
      );
      expectRefusal(response, 400, 'invalid_cursor', 'query.cursor');
    });

    it('pages from a well-formed cursor it did not issue (any point of the queue, which operators may read anyway)', async () => {
      await pipeline.send(
        LANE,
        anEnvelope({
          commandType: 'agent.approval.decided',
          conversationId: 'conv-cursor',
          payload: { approvalId: APPROVAL, decision: 'approve', decidedBy: 'x' },
        }),
      );
      await pipeline.drain(LANE);
      const response = await pipeline.api(
        anApiRequest('GET', '/api/v1/review-queue', {
          caller: anOperatorCaller(),
          query: { cursor: encode(wellFormed), limit: '5' },
        }),
      );
      expect(response.statusCode).toBe(200);
      expect(JSON.parse(response.body).runs.length).toBeGreaterThan(0);
    });

    it('answers a caller of the wrong kind 401/403 before it looks at a malformed path, as API Gateway does', async () => {
      const household = '/api/v1/agent/conversations/%zz/messages';
      expectRefusal(
        await pipeline.api(anApiRequest('POST', household, { caller: ANONYMOUS, body: { text: 'x' } })),
        401,
        'unauthenticated',
        'headers.authorization',
      );
      expectRefusal(
        await pipeline.api(anApiRequest('GET', '/api/v1/runs/%zz', { caller: aHouseholdCaller() })),
        403,
        'forbidden',
        'headers.authorization',
      );
      expectRefusal(
        await pipeline.api(
          anApiRequest('POST', '/api/workers/sites/%zz/heartbeats', { caller: anOperatorCaller(), body: {} }),
        ),
        403,
        'forbidden',
        'headers.authorization',
      );
    });

    it('answers a correlation id that is no well-formed Unicode with 400 at query.correlationId', async () => {
      for (const [path, caller] of [
        ['/api/v1/runs', anOperatorCaller()],
        ['/api/v1/agent/runs', aHouseholdCaller()],
      ] as const) {
        const response = await pipeline.api(
          anApiRequest('GET', path, { caller, query: { correlationId: 'agent:hh-1:\uD800' } }),
        );
        expectRefusal(response, 400, 'validation_failed', 'query.correlationId');
      }
    });

    it.each<[string, Caller]>([
      ['/api/v1/agent/conversations/%E0%A4%A/messages', aHouseholdCaller()],
      ['/api/v1/agent/conversations/c/approvals/%ZZ', anApprover()],
      ['/api/v1/agent/runs/%', aHouseholdCaller()],
      ['/api/v1/runs/%C0%AF', anOperatorCaller()],
      ['/api/workers/sites/%ff/heartbeats', aWorkerCaller('lab', 'worker-1', 'local')],
      [`/api/workers/sites/lab/tasks/${randomUUID()}%/claim`, aWorkerCaller('lab', 'worker-1', 'local')],
    ])('answers malformed percent-encoding in %s with 400 at path', async (path, caller) => {
      const method =
        path.startsWith('/api/v1/runs') || path.startsWith('/api/v1/agent/runs') ? 'GET' : 'POST';
      const response = await pipeline.api(
        anApiRequest(method, path, { caller, body: method === 'POST' ? {} : undefined }),
      );
      expectRefusal(response, 400, 'validation_failed', 'path');
    });
  });
});
