import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import type { LaneName } from '#contracts/lanes.js';
import { localDynamoDbClient, localSqsClient } from '#local/emulators/clients.js';
import { type LocalEventBus, startLocalEventBus } from '#local/emulators/event-bus.js';
import { LocalEventSourceMapping } from '#local/emulators/event-source-mapping.js';
import type { LaneQueues } from '#local/stack/provision.js';
import { createDocumentClient } from '#wiring/clients.js';
import { aLambdaContext } from '../support/factories.js';
import { prepareDeployedHandlerEnvironment } from '../support/handler-environment.js';

/**
 * The Lambda entry points exactly as deployed: module-scope env reading, SDK
 * clients from `AWS_ENDPOINT_URL_*`, middy + Powertools logger. Only the
 * endpoints differ from AWS.
 */
const LANE = 'runtime-agent-message-posted' as const;
/** The claim names cdk.json's `auth.jwt` may set (JWT_HOUSEHOLD_CLAIM, JWT_ROLE_CLAIM); not the defaults. */
const HOUSEHOLD_CLAIM = 'custom:hh';
const ROLE_CLAIM = 'custom:role';

/** `requestContext.authorizer` as API Gateway fills it (payload 2.0), per kind of caller. */
type Authorizer =
  | { readonly jwt: { readonly claims: Record<string, string>; readonly scopes: null } }
  | { readonly iam: Record<string, unknown> }
  /** No authorizer ran (a misrouted request, or API_AUTHORIZATION=none). */
  | null;

const householdUser = (householdId: string, role = 'member'): Authorizer => ({
  jwt: {
    claims: {
      iss: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test',
      sub: `user-of-${householdId}`,
      [HOUSEHOLD_CLAIM]: householdId,
      [ROLE_CLAIM]: role,
    },
    scopes: null,
  },
});
const operator: Authorizer = {
  iam: {
    accessKey: 'AKIAOPERATOR',
    accountId: '000000000000',
    callerId: 'AIDAOPERATOR',
    principalOrgId: null,
    userArn: 'arn:aws:iam::000000000000:user/runlane-operator',
    userId: 'AIDAOPERATOR',
    cognitoIdentity: null,
  },
};

describe('Lambda handlers as deployed, pointed at the emulators', () => {
  let bus: LocalEventBus;
  let workerHandler: (
    event: SQSEvent,
    context: Context,
  ) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;
  let apiHandler: (
    event: APIGatewayProxyEventV2,
    context: Context,
  ) => Promise<{ statusCode?: number; body?: string }>;
  let queues: Record<LaneName, LaneQueues>;
  let store: DynamoDbLifecycleStore;
  const sqs = localSqsClient(inject('sqsEndpoint'));

  beforeAll(async () => {
    bus = await startLocalEventBus();
    process.env.JWT_HOUSEHOLD_CLAIM = HOUSEHOLD_CLAIM;
    process.env.JWT_ROLE_CLAIM = ROLE_CLAIM;
    const prepared = await prepareDeployedHandlerEnvironment({
      prefix: 'e2e',
      environment: 'e2e',
      lane: LANE,
      maxReceiveCount: 3,
      busEndpoint: bus.endpoint,
      busName: 'runlane-e2e-telemetry',
    });
    queues = prepared.queues;
    store = new DynamoDbLifecycleStore({
      client: createDocumentClient(localDynamoDbClient(inject('dynamoEndpoint'))),
      tableName: prepared.tableName,
    });
    workerHandler = (await import('#handlers/lane-worker.js')).handler as never;
    apiHandler = (await import('#handlers/api.js')).handler as never;
  });
  afterAll(async () => {
    delete process.env.JWT_HOUSEHOLD_CLAIM;
    delete process.env.JWT_ROLE_CLAIM;
    await bus?.stop();
  });

  function httpEvent(
    method: string,
    rawPath: string,
    body?: string,
    base64 = false,
    authorizer: Authorizer = householdUser('h1'),
  ): APIGatewayProxyEventV2 {
    return {
      version: '2.0',
      routeKey: `${method} ${rawPath}`,
      rawPath,
      rawQueryString: '',
      headers: { 'Content-Type': 'application/json', host: 'api.local' },
      requestContext: {
        accountId: '000000000000',
        apiId: 'local',
        domainName: 'api.local',
        domainPrefix: 'api',
        http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
        requestId: randomUUID(),
        routeKey: `${method} ${rawPath}`,
        stage: '$default',
        time: new Date().toUTCString(),
        timeEpoch: Date.now(),
        ...(authorizer ? { authorizer } : {}),
      } as APIGatewayProxyEventV2['requestContext'],
      ...(body !== undefined ? { body: base64 ? Buffer.from(body).toString('base64') : body } : {}),
      isBase64Encoded: base64,
    };
  }

  it('accepts a POST through the API handler, runs it through the worker handler, and serves the run', async () => {
    const accepted = await apiHandler(
      httpEvent('POST', '/api/v1/agent/conversations/c-e2e/messages', JSON.stringify({ text: 'hi' }), true),
      aLambdaContext(),
    );
    expect(accepted.statusCode).toBe(202);
    const { commandId, runUrl } = JSON.parse(accepted.body ?? '{}');

    const mapping = new LocalEventSourceMapping({
      sqs,
      queueUrl: queues[LANE].queueUrl,
      queueArn: queues[LANE].queueArn,
      handler: workerHandler,
      batchSize: 10,
      maximumBatchingWindowMs: 0,
      maxConcurrency: 1,
      functionTimeoutMs: 10_000,
      functionName: 'lane-worker-e2e',
      waitTimeSeconds: 0,
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: queues[LANE].queueUrl, MessageBody: 'poison' }));
    const drained = await mapping.drain({ idleMs: 300, timeoutMs: 20_000 });
    expect(drained.drained).toBe(true);
    expect((await store.getRun(commandId))?.run.status).toBe('Completed');

    // The household (from the token's configured claim) reads its run on its own route…
    expect(runUrl).toBe(`/api/v1/agent/runs/${commandId}`);
    const run = await apiHandler(httpEvent('GET', runUrl), aLambdaContext());
    expect(run.statusCode).toBe(200);
    expect(JSON.parse(run.body ?? '{}')).toMatchObject({
      runId: commandId,
      status: 'Completed',
      householdId: 'h1',
    });
    // …another household cannot, an operator (IAM) reads it on the operators' route.
    const other = await apiHandler(
      httpEvent('GET', runUrl, undefined, false, householdUser('h2')),
      aLambdaContext(),
    );
    expect(other.statusCode).toBe(404);
    const byOperator = await apiHandler(
      httpEvent('GET', `/api/v1/runs/${commandId}`, undefined, false, operator),
      aLambdaContext(),
    );
    expect(byOperator.statusCode).toBe(200);

    // Telemetry went over the wire to the (local) bus: one summary per batch, not per command.
    const summaries = bus.events.filter((e) => e.detailType === 'LaneBatchProcessed');
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.flatMap((e) => (e.detail as { commandIds: string[] }).commandIds)).toContain(commandId);
    expect(
      summaries.reduce(
        (n, e) => n + ((e.detail as { deadLettered: Record<string, number> }).deadLettered.invalid_json ?? 0),
        0,
      ),
    ).toBe(1);
  });

  it('reads the caller from the authorizer context only: none is 401, a household user on an operator route 403, a member deciding 403', async () => {
    const anonymous = await apiHandler(
      httpEvent('POST', '/api/v1/agent/conversations/c/messages', JSON.stringify({ text: 'x' }), false, null),
      aLambdaContext(),
    );
    expect(anonymous.statusCode).toBe(401);
    expect(JSON.parse(anonymous.body ?? '{}')).toMatchObject({ error: 'unauthenticated' });
    const household = await apiHandler(httpEvent('GET', '/api/v1/review-queue'), aLambdaContext());
    expect(household.statusCode).toBe(403);
    const member = await apiHandler(
      httpEvent(
        'POST',
        '/api/v1/agent/conversations/c/approvals/apr-000000000000000000000001',
        JSON.stringify({ decision: 'approve' }),
      ),
      aLambdaContext(),
    );
    expect(JSON.parse(member.body ?? '{}')).toMatchObject({ error: 'approver_role_required' });
    // The role comes from JWT_ROLE_CLAIM: an approver gets past the role check (to the approval lookup).
    const approver = await apiHandler(
      httpEvent(
        'POST',
        '/api/v1/agent/conversations/c/approvals/apr-000000000000000000000001',
        JSON.stringify({ decision: 'approve' }),
        false,
        householdUser('h1', 'approver'),
      ),
      aLambdaContext(),
    );
    expect(JSON.parse(approver.body ?? '{}')).toMatchObject({ error: 'approval_not_found' });
  });

  it('answers malformed JSON with a 400 naming the field and no stack trace', async () => {
    const response = await apiHandler(
      httpEvent('POST', '/api/v1/agent/conversations/c/messages', '{oops'),
      aLambdaContext(),
    );
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body ?? '{}')).toMatchObject({ error: 'invalid_json', fieldPath: 'body' });
  });

  it('keeps processing when the telemetry bus is down', async () => {
    bus.failRequests(true);
    try {
      const record = {
        messageId: randomUUID(),
        receiptHandle: 'rh',
        body: JSON.stringify({
          schemaVersion: 1,
          commandId: randomUUID(),
          commandType: 'agent.message.posted',
          lane: LANE,
          correlationId: 'corr-bus-down',
          householdId: 'h1',
          conversationId: 'c1',
          issuedAt: new Date().toISOString(),
          payload: { text: 'bus is down' },
        }),
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: '1',
          SenderId: 's',
          ApproximateFirstReceiveTimestamp: '1',
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: queues[LANE].queueArn,
        awsRegion: 'us-east-1',
      };
      const response = await workerHandler({ Records: [record] }, aLambdaContext());
      expect(response.batchItemFailures).toEqual([]);
      const commandId = JSON.parse(record.body).commandId;
      expect((await store.getRun(commandId))?.run.status).toBe('Completed');
    } finally {
      bus.failRequests(false);
    }
  });
});
