import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBridgeTelemetryPublisher } from '#adapters/eventbridge/telemetry-publisher.js';
import { localEventBridgeClient } from '#local/emulators/clients.js';
import { type BusEvent, type LocalEventBus, startLocalEventBus } from '#local/emulators/event-bus.js';

describe('local EventBridge endpoint', () => {
  let bus: LocalEventBus;
  const delivered: BusEvent[] = [];

  beforeAll(async () => {
    bus = await startLocalEventBus({
      rules: [
        {
          name: 'stalls',
          pattern: {
            source: ['runlane.agent'],
            'detail-type': ['RunnerStall'],
            detail: { rootCause: [{ prefix: 'net' }] },
          },
          deliver: async (event) => {
            delivered.push(event);
          },
        },
      ],
    });
  });
  afterAll(async () => {
    await bus?.stop();
  });

  it('accepts PutEvents from the SDK and routes matching events to their rule', async () => {
    const client = localEventBridgeClient(bus.endpoint);
    const result = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'runlane.agent',
            DetailType: 'RunnerStall',
            Detail: JSON.stringify({ rootCause: 'network' }),
          },
          {
            Source: 'runlane.agent',
            DetailType: 'RunnerStall',
            Detail: JSON.stringify({ rootCause: 'lock' }),
          },
          {
            Source: 'runlane.lanes',
            DetailType: 'RunnerStall',
            Detail: JSON.stringify({ rootCause: 'network' }),
          },
        ],
      }),
    );
    expect(result.FailedEntryCount).toBe(0);
    expect(result.Entries?.every((e) => e.EventId)).toBe(true);
    expect(bus.events).toHaveLength(3);
    await expect.poll(() => delivered.length).toBe(1);
    expect(delivered[0]).toMatchObject({
      source: 'runlane.agent',
      'detail-type': 'RunnerStall',
      detail: { rootCause: 'network' },
    });
  });

  it('carries the telemetry publisher’s batch summary over the wire, and reports a failing bus as an error', async () => {
    const publisher = new EventBridgeTelemetryPublisher({
      client: localEventBridgeClient(bus.endpoint),
      busName: 'b',
    });
    const summary = {
      lane: 'l',
      environment: 'e',
      received: 1,
      completed: 1,
      needsReview: 0,
      duplicates: 0,
      retried: 0,
      deadLettered: {},
      commandIds: ['c1'],
      at: new Date().toISOString(),
    };
    await publisher.publishBatchSummary(summary);
    expect(bus.events.at(-1)).toMatchObject({
      source: 'runlane.lanes',
      detailType: 'LaneBatchProcessed',
      detail: summary,
    });
    bus.failRequests(true);
    try {
      await expect(publisher.publishBatchSummary(summary)).rejects.toThrow();
    } finally {
      bus.failRequests(false);
    }
  });
});
