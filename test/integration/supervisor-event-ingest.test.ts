import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbSupervisorEventStore } from '#adapters/dynamodb/supervisor-event-store.js';
import { RUNNER_EVENT_DEAD_LETTER_ATTRIBUTES } from '#adapters/sqs/runner-event-dead-letter-sink.js';
import { SUPERVISOR_DETAIL_TYPES } from '#contracts/agent-events.js';
import {
  type RunnerEventIngestOnEmulators,
  startRunnerEventIngestOnEmulators,
} from '../support/runner-event-ingest-emulators.js';
import {
  aChildEvent,
  aHealthEvent,
  childBusEvent,
  healthBusEvent,
} from '../support/supervisor-event-fixtures.js';

/**
 * Supervisor events through the ingest as the Lambda handler builds it, over
 * the wire: DynamoDB Local for the store, the SQS emulator for the ingest DLQ.
 */
describe('supervisor events through the ingest on the emulators', () => {
  let emulators: RunnerEventIngestOnEmulators;
  let store: DynamoDbSupervisorEventStore;
  const ENVIRONMENT = 'staging';

  beforeAll(async () => {
    emulators = await startRunnerEventIngestOnEmulators({
      environment: ENVIRONMENT,
      deadLetterQueueName: 'supervisor-events-dlq',
    });
    store = new DynamoDbSupervisorEventStore({ client: emulators.documents, tableName: emulators.tableName });
  });
  afterAll(() => emulators?.cleanup());

  const anIngest = () => emulators.anIngest();

  it('keeps the newest health per host when a spool replay delivers older reports afterwards', async () => {
    const { ingest, metrics } = anIngest();
    const minute = 60_000;
    const now = Date.now();
    const at = (agoMs: number, link: 'connected' | 'disconnected') =>
      aHealthEvent({
        environment: ENVIRONMENT,
        host: 'replay-host',
        ts: new Date(now - agoMs).toISOString(),
        dashboardLink: link,
      });
    const current = at(0, 'connected');
    // Sampled during the outage, spooled, replayed newest first after `current` went through.
    const spooled = [
      at(1 * minute, 'disconnected'),
      at(2 * minute, 'disconnected'),
      at(3 * minute, 'disconnected'),
    ];

    await expect(ingest(healthBusEvent(current))).resolves.toMatchObject({ outcome: 'stored' });
    for (const event of spooled) {
      await expect(ingest(healthBusEvent(event))).resolves.toMatchObject({ outcome: 'stale' });
    }
    await expect(ingest(healthBusEvent({ ...current }))).resolves.toMatchObject({ outcome: 'duplicate' });

    const latest = await store.listSupervisorHealth(ENVIRONMENT);
    expect(latest.filter((h) => h.host === 'replay-host')).toEqual([current]);
    // The outage is visible in CloudWatch at the times the reports describe.
    expect(metrics.sum('supervisorDisconnectedReports')).toBe(3);
    expect(metrics.sum('supervisorHealthReports')).toBe(4);
    expect(
      metrics.points
        .filter((p) => p.metric === 'supervisorDisconnectedReports' && p.value === 1)
        .map((p) => p.timestamp?.toISOString()),
    ).toEqual(spooled.map((e) => e.ts));
  });

  it('stores a child quarantine once and lists it back', async () => {
    const { ingest, metrics } = anIngest();
    const quarantine = aChildEvent({ environment: ENVIRONMENT, event: 'quarantined', tokensLeft: 0 });
    const results = await Promise.all([1, 2, 3].map(() => ingest(childBusEvent({ ...quarantine }))));
    expect(results.filter((r) => r.outcome === 'stored')).toHaveLength(1);
    expect(metrics.sum('supervisorChildQuarantines')).toBe(1);
    const listed = await store.listSupervisorChildEvents({
      environment: ENVIRONMENT,
      from: new Date(Date.parse(quarantine.ts) - 1000),
      to: new Date(Date.parse(quarantine.ts) + 1000),
    });
    expect(listed).toEqual([quarantine]);
  });

  it('sends invalid supervisor events to the ingest DLQ with reason and rationale', async () => {
    const { ingest, metrics } = anIngest();
    const badHealth = { ...aHealthEvent({ environment: ENVIRONMENT }), uptimeSecs: -1 };
    const badEvent = healthBusEvent(badHealth as never);
    const otherEnvironment = childBusEvent(aChildEvent({ environment: 'prod' }));

    await expect(ingest(badEvent)).resolves.toMatchObject({ outcome: 'rejected', reason: 'invalid_detail' });
    await expect(ingest(otherEnvironment)).resolves.toMatchObject({ reason: 'environment_mismatch' });

    const letters = await emulators.receiveDeadLetters();
    const names = RUNNER_EVENT_DEAD_LETTER_ATTRIBUTES;
    const byReason = Object.fromEntries(letters.map((l) => [l.attributes[names.reason], l]));
    expect(Object.keys(byReason).sort()).toEqual(['environment_mismatch', 'invalid_detail']);
    expect(byReason.invalid_detail?.attributes).toEqual({
      [names.reason]: 'invalid_detail',
      [names.rationale]: expect.stringContaining('detail.uptimeSecs:'),
      [names.detailType]: SUPERVISOR_DETAIL_TYPES.health,
      [names.busEventId]: badEvent.id,
      [names.eventId]: badHealth.id,
    });
    expect(JSON.parse(byReason.invalid_detail?.body ?? '')).toEqual(badEvent);
    expect(byReason.environment_mismatch?.attributes[names.detailType]).toBe(SUPERVISOR_DETAIL_TYPES.child);
    expect(metrics.points).toEqual([]);
    expect((await store.listSupervisorHealth(ENVIRONMENT)).map((h) => h.id)).not.toContain(badHealth.id);
  });
});
