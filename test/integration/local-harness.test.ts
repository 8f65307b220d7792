import { createHash } from 'node:crypto';
import { ReceiveMessageCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LANES, laneRedriveReceiveCount } from '#contracts/lanes.js';
import {
  LocalEventSourceMapping,
  type LocalEventSourceMappingOptions,
  type SqsBatchHandler,
} from '#local/emulators/event-source-mapping.js';
import { InvalidOptionsError } from '#local/errors.js';
import type { LaneQueues } from '#local/stack/provision.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';

const LANE = LANES[0];
const MAX_RECEIVE_COUNT = 3;

interface Invocation {
  readonly event: SQSEvent;
  readonly context: Context;
  readonly remainingAtStart: number;
}

let env: TestEnvironment<typeof LANE.name>;
let lane: LaneQueues;
let mappings: LocalEventSourceMapping[];

beforeEach(async () => {
  // A fresh queue pair per test: visibility 1 s, DLQ after MAX_RECEIVE_COUNT receives.
  env = await createTestEnvironment({
    table: false,
    lanes: [LANE],
    maxReceiveCount: MAX_RECEIVE_COUNT,
    visibilityTimeoutSeconds: 1,
  });
  lane = env.lane(LANE.name);
  mappings = [];
});

afterEach(async () => {
  await Promise.all(mappings.map((mapping) => mapping.stop()));
  await env.cleanup();
});

/** A mapping on the test lane that records every invocation; override any option. */
function mappingFor(
  handler: SqsBatchHandler,
  overrides: Partial<LocalEventSourceMappingOptions> = {},
): { mapping: LocalEventSourceMapping; invocations: Invocation[] } {
  const invocations: Invocation[] = [];
  const mapping = new LocalEventSourceMapping({
    sqs: env.sqs,
    queueUrl: lane.queueUrl,
    queueArn: lane.queueArn,
    batchSize: 10,
    maximumBatchingWindowMs: 0,
    maxConcurrency: 1,
    functionTimeoutMs: 5_000,
    functionName: 'lane-worker',
    waitTimeSeconds: 1,
    ...overrides,
    handler: (event, context) => {
      invocations.push({ event, context, remainingAtStart: context.getRemainingTimeInMillis() });
      return handler(event, context);
    },
  });
  mappings.push(mapping);
  return { mapping, invocations };
}

async function sendMessages(sqs: SQSClient, queueUrl: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 10) {
    const size = Math.min(10, count - start);
    const result = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Array.from({ length: size }, (_, index) => ({
          Id: String(index),
          MessageBody: JSON.stringify({ n: start + index }),
        })),
      }),
    );
    ids.push(...(result.Successful ?? []).map((entry) => entry.MessageId ?? ''));
  }
  return ids;
}

const succeed: SqsBatchHandler = async () => ({ batchItemFailures: [] });
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const receiveCounts = (event: SQSEvent | undefined): Record<string, string> =>
  Object.fromEntries(
    (event?.Records ?? []).map((record) => [record.messageId, record.attributes.ApproximateReceiveCount]),
  );

describe('records and context', () => {
  it('delivers Lambda-shaped SQS records', async () => {
    const body = JSON.stringify({ hello: 'lane' });
    const sent = await env.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: lane.queueUrl,
        Entries: [
          {
            Id: 'a',
            MessageBody: body,
            MessageAttributes: {
              commandType: { DataType: 'String', StringValue: 'ingestion.completed' },
              attempt: { DataType: 'Number', StringValue: '2' },
              blob: { DataType: 'Binary', BinaryValue: Buffer.from('hi') },
            },
          },
        ],
      }),
    );
    const { mapping, invocations } = mappingFor(succeed);

    await mapping.pollOnce();

    const record = invocations[0]?.event.Records[0];
    expect(record).toMatchObject({
      messageId: sent.Successful?.[0]?.MessageId,
      body,
      md5OfBody: createHash('md5').update(body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: lane.queueArn,
      awsRegion: 'us-east-1',
      messageAttributes: {
        commandType: {
          stringValue: 'ingestion.completed',
          dataType: 'String',
          stringListValues: [],
          binaryListValues: [],
        },
        attempt: { stringValue: '2', dataType: 'Number', stringListValues: [], binaryListValues: [] },
        blob: {
          binaryValue: Buffer.from('hi').toString('base64'),
          dataType: 'Binary',
          stringListValues: [],
          binaryListValues: [],
        },
      },
    });
    expect(record?.receiptHandle).toEqual(expect.any(String));
    expect(record?.md5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    expect(record?.attributes).toMatchObject({
      ApproximateReceiveCount: '1',
      SentTimestamp: expect.stringMatching(/^\d{13}$/),
      ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
      SenderId: expect.any(String),
    });
  });

  it('passes a Context whose remaining time counts down from the function timeout', async () => {
    await sendMessages(env.sqs, lane.queueUrl, 2);
    let remainingLater = 0;
    const { mapping, invocations } = mappingFor(
      async (_event, context) => {
        await sleep(50);
        remainingLater = context.getRemainingTimeInMillis();
      },
      { functionTimeoutMs: 2_000, batchSize: 1 },
    );

    await mapping.pollOnce();
    await mapping.pollOnce();

    const [first, second] = invocations;
    expect(first?.context).toMatchObject({
      functionName: 'lane-worker',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:lane-worker',
      logGroupName: '/aws/lambda/lane-worker',
    });
    expect(first?.context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(second?.context.awsRequestId).not.toBe(first?.context.awsRequestId);
    expect(first?.remainingAtStart).toBeLessThanOrEqual(2_000);
    expect(first?.remainingAtStart).toBeGreaterThan(1_800);
    expect(remainingLater).toBeLessThan(second?.remainingAtStart ?? 0);
  });
});

describe('batching', () => {
  it('invokes with at most batchSize records', async () => {
    await sendMessages(env.sqs, lane.queueUrl, 7);
    const { mapping, invocations } = mappingFor(succeed, { batchSize: 3 });

    const reports = [await mapping.pollOnce(), await mapping.pollOnce(), await mapping.pollOnce()];

    expect(invocations.map((invocation) => invocation.event.Records.length)).toEqual([3, 3, 1]);
    expect(reports.map((report) => report.deletedMessageIds.length)).toEqual([3, 3, 1]);
  });

  it('gathers across receives within the batching window, up to batchSize', async () => {
    await sendMessages(env.sqs, lane.queueUrl, 15);
    const { mapping, invocations } = mappingFor(succeed, { batchSize: 15, maximumBatchingWindowMs: 2_000 });

    const startedAt = Date.now();
    const report = await mapping.pollOnce();

    expect(invocations).toHaveLength(1);
    expect(report.receivedMessageIds).toHaveLength(15);
    expect(report.deletedMessageIds).toHaveLength(15);
    // Full batch: no need to wait out the window.
    expect(Date.now() - startedAt).toBeLessThan(1_500);
  });

  it('invokes with a partial batch when the batching window closes', async () => {
    await sendMessages(env.sqs, lane.queueUrl, 4);
    // The window stays under the 1 s visibility timeout, as AWS requires.
    const { mapping } = mappingFor(succeed, { batchSize: 10, maximumBatchingWindowMs: 600 });

    const startedAt = Date.now();
    const report = await mapping.pollOnce();

    expect(report.receivedMessageIds).toHaveLength(4);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(550);
  });

  it('does not invoke when nothing arrives', async () => {
    const { mapping, invocations } = mappingFor(succeed);

    const report = await mapping.pollOnce({ waitTimeSeconds: 0 });

    expect(report.invoked).toBe(false);
    expect(invocations).toHaveLength(0);
  });
});

describe('outcomes', () => {
  it('partial batch failure deletes only the successes; the failed message comes back with a higher receive count', async () => {
    const [, failedId] = await sendMessages(env.sqs, lane.queueUrl, 3);
    const { mapping, invocations } = mappingFor(async () => ({
      batchItemFailures: [{ itemIdentifier: failedId ?? '' }],
    }));

    const report = await mapping.pollOnce();
    const retried = await mapping.pollOnce({ waitTimeSeconds: 3 });

    expect(report.batchFailed).toBe(false);
    expect(report.failedMessageIds).toEqual([failedId]);
    expect(report.deletedMessageIds).toHaveLength(2);
    expect(report.deletedMessageIds).not.toContain(failedId);
    expect(retried.receivedMessageIds).toEqual([failedId]);
    expect(receiveCounts(invocations[1]?.event)).toEqual({ [failedId ?? '']: '2' });
  });

  it('a handler that throws fails the whole batch: nothing is deleted, everything comes back', async () => {
    const ids = await sendMessages(env.sqs, lane.queueUrl, 3);
    const { mapping, invocations } = mappingFor(async () => {
      throw new Error('downstream unavailable');
    });

    const report = await mapping.pollOnce();
    const depth = await mapping.depth();
    await mapping.pollOnce({ waitTimeSeconds: 3 });

    expect(report).toMatchObject({
      batchFailed: true,
      batchFailureReason: 'handler_error',
      error: 'Error: downstream unavailable',
      deletedMessageIds: [],
    });
    expect([...report.failedMessageIds].sort()).toEqual([...ids].sort());
    expect(depth).toEqual({ visible: 0, inFlight: 3, delayed: 0 });
    expect(Object.values(receiveCounts(invocations[1]?.event))).toEqual(['2', '2', '2']);
  });

  it.each([
    ['an id not in the batch', { itemIdentifier: 'not-a-message-of-this-batch' }],
    ['an empty id', { itemIdentifier: '' }],
    ['a null id', { itemIdentifier: null }],
    ['a missing id', { messageId: 'wrong-key' }],
  ])('a response naming %s fails the whole batch', async (_case, failure) => {
    await sendMessages(env.sqs, lane.queueUrl, 2);
    const { mapping } = mappingFor(
      async (event) =>
        ({
          batchItemFailures: [{ itemIdentifier: event.Records[0]?.messageId ?? '' }, failure],
        }) as SQSBatchResponse,
    );

    const report = await mapping.pollOnce();

    expect(report).toMatchObject({ batchFailed: true, batchFailureReason: 'invalid_item_identifier' });
    expect(report.deletedMessageIds).toEqual([]);
    expect(report.failedMessageIds).toHaveLength(2);
    expect(await mapping.depth()).toEqual({ visible: 0, inFlight: 2, delayed: 0 });
  });

  it('an unknown itemIdentifier retries the whole batch', async () => {
    const ids = await sendMessages(env.sqs, lane.queueUrl, 2);
    const { mapping } = mappingFor(async () => ({ batchItemFailures: [{ itemIdentifier: 'unknown' }] }));

    await mapping.pollOnce();
    const retried = await mapping.pollOnce({ waitTimeSeconds: 3 });

    expect([...retried.receivedMessageIds].sort()).toEqual([...ids].sort());
  });

  it.each([
    ['nothing', undefined],
    ['an empty object', {}],
    ['a null list', { batchItemFailures: null }],
    ['an empty list', { batchItemFailures: [] }],
  ])('a handler resolving with %s deletes the whole batch', async (_case, response) => {
    await sendMessages(env.sqs, lane.queueUrl, 2);
    const { mapping } = mappingFor(async () => response as SQSBatchResponse | undefined);

    const report = await mapping.pollOnce();

    expect(report.batchFailed).toBe(false);
    expect(report.deletedMessageIds).toHaveLength(2);
    expect(await mapping.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('a response that is not an object fails the whole batch', async () => {
    await sendMessages(env.sqs, lane.queueUrl, 1);
    const { mapping } = mappingFor((async () => 'ok') as unknown as SqsBatchHandler);

    const report = await mapping.pollOnce();

    expect(report).toMatchObject({
      batchFailed: true,
      batchFailureReason: 'invalid_response',
      deletedMessageIds: [],
    });
  });

  it('without ReportBatchItemFailures a resolved handler deletes everything', async () => {
    const [firstId] = await sendMessages(env.sqs, lane.queueUrl, 2);
    const { mapping } = mappingFor(async () => ({ batchItemFailures: [{ itemIdentifier: firstId ?? '' }] }), {
      reportBatchItemFailures: false,
    });

    const report = await mapping.pollOnce();

    expect(report.deletedMessageIds).toHaveLength(2);
  });

  it('a handler running past the function timeout fails the whole batch and its late result is ignored', async () => {
    const ids = await sendMessages(env.sqs, lane.queueUrl, 2);
    let lateResultReturned = false;
    const { mapping, invocations } = mappingFor(
      async () => {
        await sleep(700);
        lateResultReturned = true;
        return { batchItemFailures: [] };
      },
      { functionTimeoutMs: 200 },
    );

    const report = await mapping.pollOnce();
    await sleep(700);
    const retried = await mapping.pollOnce({ waitTimeSeconds: 3 });

    expect(report).toMatchObject({ batchFailed: true, batchFailureReason: 'timeout', deletedMessageIds: [] });
    expect(report.durationMs).toBeLessThan(600);
    expect(lateResultReturned).toBe(true);
    expect([...retried.receivedMessageIds].sort()).toEqual([...ids].sort());
    expect(Object.values(receiveCounts(invocations[1]?.event))).toEqual(['2', '2']);
  });
});

describe('redrive and polling', () => {
  it('a message failing every attempt reaches the DLQ after maxReceiveCount + LANE_GRACE_RECEIVES invocations', async () => {
    const [poisonId] = await sendMessages(env.sqs, lane.queueUrl, 1);
    const { mapping } = mappingFor(async (event) => ({
      batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })),
    }));

    const drained = await mapping.drain({ timeoutMs: 15_000 });
    const dead = await env.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: lane.dlqUrl, MessageSystemAttributeNames: ['All'] }),
    );

    expect(drained.drained).toBe(true);
    expect(drained.invocations.map((report) => report.receivedMessageIds)).toEqual(
      Array.from({ length: laneRedriveReceiveCount(MAX_RECEIVE_COUNT) }, () => [poisonId]),
    );
    expect(dead.Messages?.map((message) => message.MessageId)).toEqual([poisonId]);
  });

  it('start() runs up to maxConcurrency invocations at once; drain() waits for them; stop() ends promptly', async () => {
    await sendMessages(env.sqs, lane.queueUrl, 8);
    let active = 0;
    let peak = 0;
    const { mapping } = mappingFor(
      async () => {
        active += 1;
        peak = Math.max(peak, active);
        await sleep(150);
        active -= 1;
      },
      { batchSize: 1, maxConcurrency: 3, waitTimeSeconds: 20 },
    );

    mapping.start();
    const drained = await mapping.drain({ timeoutMs: 10_000 });
    const stopStartedAt = Date.now();
    await mapping.stop();

    expect(drained.drained).toBe(true);
    expect(drained.invocations.flatMap((report) => report.deletedMessageIds)).toHaveLength(8);
    expect(peak).toBe(3);
    // The pollers' 20 s long polls are aborted, not waited out.
    expect(Date.now() - stopStartedAt).toBeLessThan(1_000);
    expect(mapping.running).toBe(false);
  });

  it('rejects impossible options with every problem listed', () => {
    const create = () =>
      mappingFor(succeed, {
        batchSize: 20,
        maximumBatchingWindowMs: 0,
        maxConcurrency: 0,
        functionTimeoutMs: 0,
        queueArn: 'not-an-arn',
      });

    expect(create).toThrow(InvalidOptionsError);
    expect(create).toThrow(/maxConcurrency[\s\S]*functionTimeoutMs[\s\S]*batchSize above 10[\s\S]*queueArn/);
  });
});
