import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiRequest } from '#core/api/command-api.js';
import { aHouseholdCaller, anApprover, anOperatorCaller } from '../support/api-requests.js';
import { anEnvelope } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';

const MESSAGES = '/api/v1/agent/conversations/conv-1/messages';

function request(overrides: Partial<ApiRequest> & { bodyValue?: unknown } = {}): ApiRequest {
  const { bodyValue, ...rest } = overrides;
  return {
    method: 'POST',
    path: MESSAGES,
    headers: { 'content-type': 'application/json' },
    query: {},
    body: JSON.stringify(bodyValue ?? { householdId: 'hh-1', text: 'hello' }),
    requestId: randomUUID(),
    caller: aHouseholdCaller('hh-1'),
    ...rest,
  };
}

describe('API on the emulators', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await createPipeline();
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  async function queueDepth(): Promise<number> {
    const result = await pipeline.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: pipeline.queues['runtime-agent-message-posted'].queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(result.Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(result.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  }

  it('accepts a message with 202, commandId, correlationId and the run URL, and enqueues exactly one envelope', async () => {
    const before = await queueDepth();
    const response = await pipeline.api(request());
    expect(response.statusCode).toBe(202);
    const body = JSON.parse(response.body);
    expect(body).toMatchObject({
      status: 'Accepted',
      commandId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      correlationId: `agent:hh-1:conv-1:${body.commandId}`,
      // Where the household user reads it: their own route.
      runUrl: `/api/v1/agent/runs/${body.commandId}`,
      lane: 'runtime-agent-message-posted',
    });
    expect(response.headers.location).toBe(body.runUrl);
    expect(await queueDepth()).toBe(before + 1);
    await pipeline.drain('runtime-agent-message-posted');
  });

  const badRequests: [string, Partial<ApiRequest> & { bodyValue?: unknown }, number, string][] = [
    ['malformed JSON', { body: '{"householdId": ' }, 400, 'body'],
    ['a missing field', { bodyValue: { householdId: 'hh-1' } }, 400, 'body.text'],
    ['a wrong type', { bodyValue: { householdId: 'hh-1', text: 42 } }, 400, 'body.text'],
    ['an unknown field', { bodyValue: { householdId: 'hh-1', text: 'x', admin: true } }, 400, 'body.admin'],
    ['a malformed householdId', { bodyValue: { householdId: 'a b', text: 'x' } }, 400, 'body.householdId'],
    ['an oversized body', { bodyValue: { householdId: 'hh-1', text: 'x'.repeat(40_000) } }, 413, 'body'],
    ['a wrong content type', { headers: { 'content-type': 'text/plain' } }, 415, 'headers.content-type'],
    ['no content type', { headers: {} }, 415, 'headers.content-type'],
    ['an unknown route', { path: '/api/v1/nope' }, 404, 'path'],
    ['a wrong method', { method: 'DELETE' }, 405, 'method'],
    [
      'a malformed conversation id',
      { path: '/api/v1/agent/conversations/a%20b/messages' },
      400,
      'path.conversationId',
    ],
    [
      'a malformed approval id',
      {
        path: '/api/v1/agent/conversations/c/approvals/not-an-id',
        bodyValue: { householdId: 'hh-1', decision: 'approve', decidedBy: 'alice' },
        caller: anApprover('hh-1', 'alice'),
      },
      400,
      'path.approvalId',
    ],
    [
      'a bad decision',
      {
        path: '/api/v1/agent/conversations/c/approvals/apr-000000000000000000000000',
        bodyValue: { householdId: 'hh-1', decision: 'maybe', decidedBy: 'alice' },
        caller: anApprover('hh-1', 'alice'),
      },
      400,
      'body.decision',
    ],
    [
      'malformed percent-encoding in the path',
      { path: '/api/v1/agent/conversations/%E0%A4%A/messages' },
      400,
      'path',
    ],
    [
      'a malformed Idempotency-Key',
      { headers: { 'content-type': 'application/json', 'idempotency-key': 'has space' } },
      400,
      'headers.idempotency-key',
    ],
  ];

  it.each(badRequests)(
    'answers %s with a 4xx naming the field path and enqueues nothing',
    async (_name, overrides, status, fieldPath) => {
      const before = await queueDepth();
      const response = await pipeline.api(request(overrides));
      expect(response.statusCode).toBe(status);
      const body = JSON.parse(response.body);
      expect(body.fieldPath).toBe(fieldPath);
      expect(response.body).not.toMatch(/at .*\.ts|stack/i);
      expect(await queueDepth()).toBe(before);
    },
  );

  it('answers a bad read-model query with 400 naming the field', async () => {
    const operator = anOperatorCaller();
    const cases: [Partial<ApiRequest>, string][] = [
      [{ method: 'GET', path: '/api/v1/runs/not-a-uuid', caller: operator }, 'path.runId'],
      [{ method: 'GET', path: '/api/v1/runs', query: {}, caller: operator }, 'query.correlationId'],
      [
        { method: 'GET', path: '/api/v1/review-queue', query: { limit: '0' }, caller: operator },
        'query.limit',
      ],
      [
        { method: 'GET', path: '/api/v1/review-queue', query: { cursor: 'garbage' }, caller: operator },
        'query.cursor',
      ],
      [{ method: 'GET', path: '/api/v1/agent/runs/not-a-uuid' }, 'path.runId'],
      [{ method: 'GET', path: '/api/v1/agent/runs', query: {} }, 'query.correlationId'],
    ];
    for (const [overrides, fieldPath] of cases) {
      const response = await pipeline.api(request({ body: undefined, headers: {}, ...overrides }));
      expect(response.statusCode, fieldPath).toBe(400);
      expect(JSON.parse(response.body).fieldPath).toBe(fieldPath);
    }
    for (const [path, caller] of [
      [`/api/v1/runs/${randomUUID()}`, operator],
      [`/api/v1/agent/runs/${randomUUID()}`, aHouseholdCaller('hh-1')],
    ] as const) {
      const missing = await pipeline.api(request({ method: 'GET', path, body: undefined, caller }));
      expect(missing.statusCode, path).toBe(404);
    }
  });

  it('answers a retried POST with the same Idempotency-Key with the same commandId; the lane runs it once', async () => {
    const before = await queueDepth();
    const headers = { 'content-type': 'application/json', 'idempotency-key': `key-${randomUUID()}` };
    const first = JSON.parse((await pipeline.api(request({ headers }))).body);
    // No run yet: the key cannot tell whether the first send landed, so the retry sends the same envelope again.
    const retry = JSON.parse((await pipeline.api(request({ headers }))).body);
    expect(retry.commandId).toBe(first.commandId);
    expect(retry.idempotentReplay).toBe(true);
    expect(await queueDepth()).toBe(before + 2);
    await pipeline.drain('runtime-agent-message-posted');
    const view = await pipeline.store.getRun(first.commandId);
    expect(view?.run).toMatchObject({ status: 'Completed', attempts: 1, duplicateDeliveries: 1 });
    expect(await pipeline.store.findRunsByCorrelationId(first.correlationId)).toHaveLength(1);

    // Once the run exists the envelope is known to be on the lane: a retry sends nothing.
    const late = await pipeline.api(request({ headers }));
    expect(late.statusCode).toBe(202);
    expect(JSON.parse(late.body)).toMatchObject({ commandId: first.commandId, idempotentReplay: true });
    expect(await queueDepth()).toBe(before);
  });

  it('answers concurrent retries with the same Idempotency-Key with one commandId, which the lane runs once', async () => {
    const before = await queueDepth();
    const headers = { 'content-type': 'application/json', 'idempotency-key': `key-${randomUUID()}` };
    const responses = await Promise.all(Array.from({ length: 8 }, () => pipeline.api(request({ headers }))));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(8).fill(202));
    const bodies = responses.map((r) => JSON.parse(r.body));
    const commandIds = new Set(bodies.map((b) => b.commandId));
    expect(commandIds.size).toBe(1);
    expect(bodies.filter((b) => !b.idempotentReplay)).toHaveLength(1);
    // One envelope per answer at most (the first send, plus a copy per retry that found no run).
    expect(await queueDepth()).toBeGreaterThan(before);
    expect(await queueDepth()).toBeLessThanOrEqual(before + 8);
    await pipeline.drain('runtime-agent-message-posted');
    const [commandId] = commandIds;
    expect((await pipeline.store.getRun(String(commandId)))?.run).toMatchObject({
      status: 'Completed',
      attempts: 1,
    });
    expect(await pipeline.store.findRunsByCorrelationId(bodies[0].correlationId)).toHaveLength(1);
  });

  it('refuses an Idempotency-Key reused for a different request with 422', async () => {
    const headers = { 'content-type': 'application/json', 'idempotency-key': `key-${randomUUID()}` };
    await pipeline.api(request({ headers }));
    const before = await queueDepth();
    const reused = await pipeline.api(
      request({ headers, bodyValue: { householdId: 'hh-1', text: 'different' } }),
    );
    expect(reused.statusCode).toBe(422);
    expect(JSON.parse(reused.body).fieldPath).toBe('headers.idempotency-key');
    expect(await queueDepth()).toBe(before);
    await pipeline.drain('runtime-agent-message-posted');
  });

  it('pages through the review queue oldest first', async () => {
    // Decisions on an unknown approval: each run ends NeedsReview (the API would refuse them, so
    // they go to the lane directly, as a replay or a stranded command would).
    for (const text of ['a', 'b', 'c']) {
      await pipeline.send(
        'runtime-agent-message-posted',
        anEnvelope({
          commandType: 'agent.approval.decided',
          householdId: `hh-rq-${text}`,
          conversationId: 'conv-rq',
          payload: { approvalId: 'apr-00000000000000000000000f', decision: 'approve', decidedBy: 'x' },
        }),
      );
      await pipeline.drain('runtime-agent-message-posted');
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = JSON.parse(
        (
          await pipeline.api(
            request({
              method: 'GET',
              path: '/api/v1/review-queue',
              body: undefined,
              query: { limit: '2', ...(cursor ? { cursor } : {}) },
              caller: anOperatorCaller(),
            }),
          )
        ).body,
      );
      seen.push(...page.runs.map((r: { needsReviewSince: string }) => r.needsReviewSince));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect([...seen].sort()).toEqual(seen);
  });
});
