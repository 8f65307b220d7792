import { createServer, type Server } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRunnerEventStore } from '#adapters/dynamodb/runner-event-store.js';
import { RUNNER_EVENT_DEAD_LETTER_ATTRIBUTES } from '#adapters/sqs/runner-event-dead-letter-sink.js';
import { AGENT_DETAIL_TYPES } from '#contracts/agent-events.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/emulators/clients.js';
import { createDocumentClient } from '#wiring/clients.js';
import {
  type RunnerEventIngestOnEmulators,
  startRunnerEventIngestOnEmulators,
} from '../support/runner-event-ingest-emulators.js';
import {
  aBusEvent,
  aRunSummaryEvent,
  aStallEvent,
  busEventOf,
} from '../support/runner-event-ingest-fixtures.js';

/**
 * The runner event ingest as the Lambda handler builds it (`buildRunnerEventIngest`),
 * over the wire: DynamoDB Local for the store, the SQS emulator for the ingest DLQ.
 */
describe('runner event ingest on the emulators', () => {
  let emulators: RunnerEventIngestOnEmulators;
  let store: DynamoDbRunnerEventStore;
  const ENVIRONMENT = 'staging';

  beforeAll(async () => {
    emulators = await startRunnerEventIngestOnEmulators({
      environment: ENVIRONMENT,
      deadLetterQueueName: 'runner-events-dlq',
    });
    store = new DynamoDbRunnerEventStore({ client: emulators.documents, tableName: emulators.tableName });
  });
  afterAll(() => emulators?.cleanup());

  const anIngest = (documents?: DynamoDBDocumentClient) => emulators.anIngest(documents);
  const receiveDeadLetters = () => emulators.receiveDeadLetters();

  it('stores a stall once and counts it once, however many times the agent resends it', async () => {
    const { ingest, metrics } = anIngest();
    const stall = aStallEvent({ environment: ENVIRONMENT, ts: new Date(Date.now() - 60_000).toISOString() });

    const results = [];
    for (let i = 0; i < 3; i += 1) results.push(await ingest(busEventOf({ ...stall })));

    expect(results.map((r) => r.outcome)).toEqual(['stored', 'duplicate', 'duplicate']);
    expect(metrics.sum('runnerStalls')).toBe(1);
    const { stalls } = await store.listEvents({
      environment: ENVIRONMENT,
      from: new Date(Date.parse(stall.ts) - 1000),
      to: new Date(Date.parse(stall.ts) + 1000),
    });
    expect(stalls).toEqual([stall]);
  });

  it('resends arriving together are still stored and counted once (the conditional put decides)', async () => {
    const { ingest, metrics } = anIngest();
    const stall = aStallEvent({ environment: ENVIRONMENT });
    const results = await Promise.all(Array.from({ length: 5 }, () => ingest(busEventOf({ ...stall }))));
    expect(results.filter((r) => r.outcome === 'stored')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'duplicate')).toHaveLength(4);
    expect(metrics.sum('runnerStalls')).toBe(1);
  });

  it('sends an invalid event to the ingest DLQ with its reason and rationale, storing nothing', async () => {
    const { ingest, metrics } = anIngest();
    const bad = { ...aStallEvent({ environment: ENVIRONMENT }), timeout: 'eventually' };
    const event = aBusEvent(bad);
    const mismatched = busEventOf(aRunSummaryEvent({ environment: 'prod' }));

    await expect(ingest(event)).resolves.toMatchObject({ outcome: 'rejected', reason: 'invalid_detail' });
    await expect(ingest(mismatched)).resolves.toMatchObject({ reason: 'environment_mismatch' });

    const letters = await receiveDeadLetters();
    expect(letters).toHaveLength(2);
    const byReason = Object.fromEntries(letters.map((l) => [l.attributes.reason, l]));
    const names = RUNNER_EVENT_DEAD_LETTER_ATTRIBUTES;
    expect(byReason.invalid_detail?.attributes).toEqual({
      [names.reason]: 'invalid_detail',
      [names.rationale]: expect.stringContaining('detail.timeout:'),
      [names.detailType]: AGENT_DETAIL_TYPES.stall,
      [names.busEventId]: event.id,
      [names.eventId]: bad.id,
    });
    expect(JSON.parse(byReason.invalid_detail?.body ?? '')).toEqual(event);
    expect(byReason.environment_mismatch?.attributes).toMatchObject({
      detailType: AGENT_DETAIL_TYPES.runSummary,
      rationale: 'detail.environment: "prod" sent to the bus of environment "staging"',
    });
    expect(metrics.points).toEqual([]);
    const window = await store.listEvents({
      environment: ENVIRONMENT,
      from: new Date(Date.now() - 3_600_000),
      to: new Date(Date.now() + 3_600_000),
    });
    expect(window.stalls.map((s) => s.id)).not.toContain(bad.id);
  });

  describe('with DynamoDB unreachable (a closed port, no mock)', () => {
    let closed: Server;
    let endpoint: string;

    beforeAll(async () => {
      // Accept and drop every connection: the SDK sees a network error, as when DynamoDB is unreachable.
      closed = createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const address = closed.address();
      endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    });
    afterAll(() => new Promise<void>((resolve) => closed.close(() => resolve())));

    it('throws, so Lambda retries the event; nothing is counted and nothing goes to the DLQ', async () => {
      const unreachable = new DynamoDBClient({
        endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: 1,
      });
      const { ingest, metrics } = anIngest(createDocumentClient(unreachable));

      await expect(ingest(busEventOf(aStallEvent({ environment: ENVIRONMENT })))).rejects.toThrow();
      expect(metrics.points).toEqual([]);
      expect(await receiveDeadLetters()).toEqual([]);
      unreachable.destroy();
    });
  });
});
