import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
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

  it('retries BatchWriteItem until every item of the completion is written', async () => {
    const envelope = anEnvelope({ payload: { text: 'pay 30 to the window cleaner' } });
    let partialWrites = 0;
    fault.current = async (command, input) => {
      if (command !== 'BatchWriteItemCommand' || partialWrites >= 2) return undefined;
      partialWrites++;
      // Pretend DynamoDB wrote nothing and handed every request back.
      return { UnprocessedItems: input.RequestItems, $metadata: {} };
    };
    const response = await pipeline.worker('runtime-agent-message-posted')(
      [anSqsRecord(JSON.stringify(envelope))],
      aLambdaContext(),
    );
    fault.current = undefined;
    expect(partialWrites).toBe(2);
    expect(response.batchItemFailures).toEqual([]);
    const view = await pipeline.store.getRun(envelope.commandId);
    expect(view?.run).toMatchObject({ status: 'Completed', result: { approvalIds: [expect.any(String)] } });
  });
});
