import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRunnerEventStore } from '#adapters/dynamodb/runner-event-store.js';
import type { RunnerEventIngestResult } from '#core/runner/event-ingest.js';
import type { ProvisionedQueue } from '#local/stack/provision.js';
import { receiveDeadLetterMessages } from '../support/dead-letters.js';
import { aLambdaContext } from '../support/factories.js';
import {
  type AgentEventHandler,
  startTelemetryHandlerEnvironment,
  type TelemetryHandlerEnvironment,
} from '../support/handler-environment.js';
import {
  aBusEvent,
  aRunSummaryEvent,
  aStallEvent,
  busEventOf,
} from '../support/runner-event-ingest-fixtures.js';

/**
 * `functions/handlers/runner-event-ingest.ts` exactly as deployed: settings read
 * from the environment at load, SDK clients from `AWS_ENDPOINT_URL_*`, middy +
 * Powertools. Events as the `runner-events` rule invokes it with; the store is
 * DynamoDB Local, the DLQ the SQS emulator.
 */
const ENVIRONMENT = 'e2e-runner';

describe('runner event ingest handler as deployed, pointed at the emulators', () => {
  let deployed: TelemetryHandlerEnvironment;
  let handler: AgentEventHandler<RunnerEventIngestResult>;
  let store: DynamoDbRunnerEventStore;
  let dlq: ProvisionedQueue;

  beforeAll(async () => {
    deployed = await startTelemetryHandlerEnvironment({ prefix: 'rei', environment: ENVIRONMENT });
    dlq = deployed.runnerEventDeadLetterQueue;
    store = new DynamoDbRunnerEventStore({ client: deployed.documents, tableName: deployed.tableName });
    handler = (await import('#handlers/runner-event-ingest.js')).handler as never;
  });
  afterAll(() => deployed?.stop());

  it('stores a stall and a run summary once each; resends come back as duplicates', async () => {
    const ts = Date.now() - 30_000;
    const stall = aStallEvent({ environment: ENVIRONMENT, ts: new Date(ts).toISOString() });
    const run = aRunSummaryEvent({
      environment: ENVIRONMENT,
      ts: new Date(ts + 10).toISOString(),
      outcome: 'idle_timeout',
      exitCode: 124,
      stallId: stall.id,
    });

    expect(await handler(busEventOf(stall), aLambdaContext())).toMatchObject({ outcome: 'stored' });
    expect(await handler(busEventOf(run), aLambdaContext())).toMatchObject({ outcome: 'stored' });
    expect(await handler(busEventOf({ ...stall }), aLambdaContext())).toMatchObject({ outcome: 'duplicate' });
    expect(await handler(busEventOf({ ...run }), aLambdaContext())).toMatchObject({ outcome: 'duplicate' });

    await expect(
      store.listEvents({ environment: ENVIRONMENT, from: new Date(ts - 1000), to: new Date(ts + 1000) }),
    ).resolves.toEqual({ stalls: [stall], runs: [run] });
  });

  it('acknowledges poison (no retry) and puts it on the ingest DLQ with its reason', async () => {
    const poison = aBusEvent({ ...aStallEvent({ environment: ENVIRONMENT }), elapsedMs: -5 });
    const elsewhere = busEventOf(aStallEvent({ environment: 'prod' }));

    await expect(handler(poison, aLambdaContext())).resolves.toMatchObject({
      outcome: 'rejected',
      reason: 'invalid_detail',
    });
    await expect(handler(elsewhere, aLambdaContext())).resolves.toMatchObject({
      outcome: 'rejected',
      reason: 'environment_mismatch',
    });

    const received = await receiveDeadLetterMessages(deployed.sqs, dlq.queueUrl);
    const letters = received.map((m) => ({
      reason: m.MessageAttributes?.reason?.StringValue,
      rationale: m.MessageAttributes?.rationale?.StringValue,
      busEventId: m.MessageAttributes?.busEventId?.StringValue,
    }));
    expect(letters).toHaveLength(2);
    expect(letters).toEqual(
      expect.arrayContaining([
        {
          reason: 'invalid_detail',
          rationale: expect.stringContaining('detail.elapsedMs'),
          busEventId: poison.id,
        },
        {
          reason: 'environment_mismatch',
          rationale: `detail.environment: "prod" sent to the bus of environment "${ENVIRONMENT}"`,
          busEventId: elsewhere.id,
        },
      ]),
    );
  });
});
