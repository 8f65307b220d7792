import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aLambdaContext, anEnvelope, anIngestionEnvelope, anSqsRecord } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';

type Step = (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;
/** Returns a replacement output, throws, or returns undefined to let the request through. */
type Fault = (
  command: string,
  input: Record<string, unknown>,
) => Promise<Record<string, unknown> | undefined>;

/**
 * Faults DynamoDB Local cannot produce on demand (throttling, partial batch
 * writes) are injected with an SDK middleware on the real client: every other
 * request still goes over the wire to the emulator.
 */
function injectFault(pipeline: Pipeline, fault: { current: Fault | undefined }) {
  (
    pipeline.dynamo.middlewareStack as unknown as {
      add(
        mw: (next: Step, context: { commandName?: string }) => Step,
        options: { step: 'initialize'; name: string },
      ): void;
    }
  ).add(
    (next, context) => async (args) => {
      const replaced = fault.current ? await fault.current(context.commandName ?? '', args.input) : undefined;
      if (replaced) return { output: replaced };
      return next(args);
    },
    { step: 'initialize', name: 'faultInjection' },
  );
}

describe('faults injected into the DynamoDB client (throttle, unprocessed items)', () => {
  let pipeline: Pipeline;
  const fault: { current: Fault | undefined } = { current: undefined };

  beforeAll(async () => {
    pipeline = await createPipeline({ maxReceiveCount: 3, visibilityTimeoutSeconds: 1 });
    injectFault(pipeline, fault);
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('returns a throttled record to the queue without recording anything, and completes the rest of the batch', async () => {
    const throttled = anIngestionEnvelope();
    const others = [anIngestionEnvelope(), anIngestionEnvelope()];
    fault.current = async (command, input) => {
      // At this step the document client may not have marshalled yet: accept both shapes.
      const pk = (input.Item as { pk?: string | { S?: string } } | undefined)?.pk;
      const key = typeof pk === 'string' ? pk : pk?.S;
      if (command === 'PutItemCommand' && key === `RUN#${throttled.commandId}`) {
        throw new ProvisionedThroughputExceededException({ message: 'throttled (injected)', $metadata: {} });
      }
      return undefined;
    };
    const records = [throttled, ...others].map((e) => anSqsRecord(JSON.stringify(e)));
    const response = await pipeline.worker('runtime-ingestion-completed')(records, aLambdaContext());
    fault.current = undefined;
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: records[0]?.messageId }]);
    expect(await pipeline.store.getRun(throttled.commandId)).toBeUndefined();
    for (const envelope of others)
      expect((await pipeline.store.getRun(envelope.commandId))?.run.status).toBe('Completed');

    // The redelivery, with DynamoDB healthy again, completes it.
    const retry = await pipeline.worker('runtime-ingestion-completed')(
      [anSqsRecord(JSON.stringify(throttled), { receiveCount: 2 })],
      aLambdaContext(),
    );
    expect(retry.batchItemFailures).toEqual([]);
    expect((await pipeline.store.getRun(throttled.commandId))?.run.status).toBe('Completed');
  });

  it('a completion whose run write is throttled after its records were written: nothing of it shows, the redelivery completes it once', async () => {
    const envelope = anEnvelope({ payload: { text: 'pay 30 to the window cleaner' } });
    let runWrites = 0;
    fault.current = async (command, input) => {
      const item = input.Item as
        | { pk?: string | { S?: string }; keyStatus?: string | { S?: string } }
        | undefined;
      const pk = typeof item?.pk === 'string' ? item.pk : item?.pk?.S;
      const keyStatus = typeof item?.keyStatus === 'string' ? item.keyStatus : item?.keyStatus?.S;
      // The completion's conditional run write (the commit point), not the reservation.
      if (command === 'PutItemCommand' && pk === `RUN#${envelope.commandId}` && keyStatus === 'Completed') {
        runWrites++;
        throw new ProvisionedThroughputExceededException({ message: 'throttled (injected)', $metadata: {} });
      }
      return undefined;
    };
    // 500 ms left in the invocation: the attempt's lock lapses with it, as a redelivery would find it.
    const first = await pipeline.worker('runtime-agent-message-posted')(
      [anSqsRecord(JSON.stringify(envelope))],
      aLambdaContext(500),
    );
    fault.current = undefined;
    expect(runWrites).toBe(1);
    expect(first.batchItemFailures).toHaveLength(1);
    // The records are in the table, but the run is not Completed: nothing reads them as the command's.
    const during = await pipeline.store.getRun(envelope.commandId);
    expect(during?.run.keyStatus).toBe('Reserved');
    await new Promise((resolve) => setTimeout(resolve, 600));

    const retry = await pipeline.worker('runtime-agent-message-posted')(
      [anSqsRecord(JSON.stringify(envelope), { receiveCount: 2 })],
      aLambdaContext(),
    );
    expect(retry.batchItemFailures).toEqual([]);
    const view = await pipeline.store.getRun(envelope.commandId);
    expect(view?.run).toMatchObject({
      status: 'Completed',
      keyStatus: 'Completed',
      result: { approvalIds: [expect.any(String)] },
    });
    // One approval item, written once though two attempts produced it.
    const approvals = await pipeline.documents.send(
      new QueryCommand({
        TableName: pipeline.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: {
          ':pk': `APPROVAL#${(view?.run.result as { approvalIds?: string[] } | undefined)?.approvalIds?.[0]}`,
        },
      }),
    );
    expect(approvals.Items).toHaveLength(1);
  });
});
