import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  DynamoDbRunnerEventStore,
  RUNNER_EVENT_SHARDS,
  RUNNER_EVIDENCE_BOUNDS,
  runnerEventKeys,
} from '#adapters/dynamodb/runner-event-store.js';
import { shardOf } from '#contracts/tables.js';
import { aRunSummaryEvent, aStallEvent } from '../support/runner-event-ingest-fixtures.js';
import { useStoreTable } from '../support/store-table.js';

/**
 * `DynamoDbRunnerEventStore` on DynamoDB Local, in the real lifecycle table
 * layout: conditional puts, sharded day partitions, paginated window queries.
 */
describe('DynamoDbRunnerEventStore on DynamoDB Local', () => {
  const table = useStoreTable();
  const NOW = new Date('2025-03-09T12:00:00.000Z');

  function aStore(options: { pageSize?: number; retentionDays?: number } = {}) {
    return new DynamoDbRunnerEventStore({ ...table.storeOptions(NOW), ...options });
  }

  const stored = (event: { environment: string; ts: string; id: string; rootCause?: string }) =>
    table.item(runnerEventKeys.item(event as never));

  const shard = (id: string) => shardOf(id, RUNNER_EVENT_SHARDS);

  it('stores an event once under its day shard; a resend is a duplicate and changes nothing', async () => {
    const store = aStore({ retentionDays: 14 });
    const stall = aStallEvent({ environment: 'dup-env', ts: '2025-03-09T10:15:00.123Z' });

    await expect(store.put(stall)).resolves.toBe('stored');
    const first = await stored(stall);
    expect(first).toMatchObject({
      pk: `RUNNER#dup-env#2025-03-09#${shard(stall.id)}`,
      sk: `2025-03-09T10:15:00.123Z#stall#${stall.id}`,
      entity: 'RunnerStall',
      rootCause: 'network',
      receivedAt: NOW.toISOString(),
      expiresAt: NOW.getTime() / 1000 + 14 * 24 * 60 * 60,
    });
    // None of the table's sparse index attributes: no index write per event.
    for (const attribute of [
      'correlationKey',
      'issuedAt',
      'reviewQueue',
      'needsReviewSince',
      'openShard',
      'openDueAt',
    ]) {
      expect(first).not.toHaveProperty(attribute);
    }

    const later = new DynamoDbRunnerEventStore({
      client: table.client,
      tableName: table.tableName,
      clock: { now: () => new Date(NOW.getTime() + 60_000) },
    });
    await expect(later.put({ ...stall })).resolves.toBe('duplicate');
    await expect(later.put({ ...stall })).resolves.toBe('duplicate');
    expect(await stored(stall)).toEqual(first);
    const { stalls } = await store.listEvents({
      environment: 'dup-env',
      from: new Date('2025-03-09T00:00:00Z'),
      to: new Date('2025-03-10T00:00:00Z'),
    });
    expect(stalls).toEqual([stall]);
  });

  it('keys a ts with an offset by its UTC instant, so day and order follow the instant', async () => {
    const store = aStore();
    const stall = aStallEvent({ environment: 'offset-env', ts: '2025-03-10T01:30:00+02:00' });
    await store.put(stall);
    expect(runnerEventKeys.item(stall)).toEqual({
      pk: `RUNNER#offset-env#2025-03-09#${shard(stall.id)}`,
      sk: `2025-03-09T23:30:00.000Z#stall#${stall.id}`,
    });
    const { stalls } = await store.listEvents({
      environment: 'offset-env',
      from: new Date('2025-03-09T23:00:00Z'),
      to: new Date('2025-03-10T00:00:00Z'),
    });
    // Returned exactly as sent, offset included.
    expect(stalls).toEqual([stall]);
  });

  it('lists a window crossing midnight from both day partitions, sorted by ts, half-open, over several pages', async () => {
    const store = aStore({ pageSize: 2 });
    const environment = 'midnight-env';
    const at = (iso: string) => ({ environment, ts: iso });
    const before = aStallEvent(at('2025-03-08T22:59:59.999Z'));
    const inside = [
      aStallEvent(at('2025-03-08T23:00:00.000Z')), // exactly `from`: in
      aStallEvent(at('2025-03-08T23:59:59.999Z')),
      aStallEvent(at('2025-03-09T00:00:00.000Z')),
      aStallEvent(at('2025-03-09T00:30:00.000Z')),
      aStallEvent(at('2025-03-09T00:45:00.000Z')),
    ];
    const runs = [
      aRunSummaryEvent({ ...at('2025-03-08T23:30:00.000Z'), outcome: 'failure', exitCode: 1 }),
      aRunSummaryEvent({ ...at('2025-03-09T00:10:00.000Z'), outcome: 'idle_timeout', exitCode: 124 }),
    ];
    const atTo = aStallEvent(at('2025-03-09T01:00:00.000Z')); // exactly `to`: out
    const otherEnvironment = aStallEvent({ environment: 'other-env', ts: '2025-03-09T00:20:00.000Z' });
    // Written out of order: the store orders them.
    for (const event of [...inside].reverse()) await store.put(event);
    for (const event of [before, ...runs, atTo, otherEnvironment]) await store.put(event);

    const window = await store.listEvents({
      environment,
      from: new Date('2025-03-08T23:00:00.000Z'),
      to: new Date('2025-03-09T01:00:00.000Z'),
    });
    expect(window.stalls).toEqual(inside);
    expect(window.runs).toEqual(runs);
  });

  it("spreads one day's events over every shard and lists them all, in order, over several pages", async () => {
    const store = aStore({ pageSize: 3 });
    const environment = 'fleet-env';
    // Fixed ids, so the shards they land on are fixed too.
    const events = Array.from({ length: 64 }, (_, i) =>
      aStallEvent({
        environment,
        id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        ts: new Date(Date.parse('2025-03-09T08:00:00.000Z') + i * 1000).toISOString(),
      }),
    );
    for (const event of events) await store.put(event);

    const partitions = new Set(events.map((event) => runnerEventKeys.item(event).pk));
    expect(partitions).toEqual(
      new Set(Array.from({ length: RUNNER_EVENT_SHARDS }, (_, n) => `RUNNER#${environment}#2025-03-09#${n}`)),
    );
    for (const event of events.slice(0, 5)) {
      expect(await stored(event)).toMatchObject({
        pk: `RUNNER#${environment}#2025-03-09#${shard(event.id)}`,
      });
    }
    const { stalls } = await store.listEvents({
      environment,
      from: new Date('2025-03-09T00:00:00Z'),
      to: new Date('2025-03-10T00:00:00Z'),
    });
    expect(stalls).toEqual(events);
  });

  it('still lists events stored under the unsharded day partition (written before the sharding)', async () => {
    const store = aStore();
    const environment = 'legacy-env';
    const before = aStallEvent({ environment, ts: '2025-03-09T09:00:00.000Z' });
    const after = aStallEvent({ environment, ts: '2025-03-09T09:30:00.000Z' });
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          pk: `RUNNER#${environment}#2025-03-09`,
          sk: `${before.ts}#stall#${before.id}`,
          entity: 'RunnerStall',
          ...before,
          receivedAt: before.ts,
          expiresAt: 2_000_000_000,
        },
      }),
    );
    await store.put(after);
    const { stalls } = await store.listEvents({
      environment,
      from: new Date('2025-03-09T00:00:00Z'),
      to: new Date('2025-03-10T00:00:00Z'),
    });
    expect(stalls).toEqual([before, after]);
  });

  it('reads an empty window and a window of many days', async () => {
    const store = aStore();
    const environment = 'week-env';
    const events = [1, 3, 6].map((day) =>
      aStallEvent({ environment, ts: `2025-02-0${day}T12:00:00.000Z`, rootCause: 'lock' }),
    );
    for (const event of events) await store.put(event);
    const week = await store.listEvents({
      environment,
      from: new Date('2025-02-01T00:00:00Z'),
      to: new Date('2025-02-08T00:00:00Z'),
    });
    expect(week.stalls.map((s) => s.id)).toEqual(events.map((e) => e.id));
    await expect(
      store.listEvents({ environment: 'nobody', from: new Date('2025-02-01'), to: new Date('2025-02-02') }),
    ).resolves.toEqual({ stalls: [], runs: [] });
  });

  it('refuses a reversed, invalid or overlong window before querying', async () => {
    const store = aStore();
    const environment = 'x';
    await expect(
      store.listEvents({ environment, from: new Date('2025-02-02'), to: new Date('2025-02-01') }),
    ).rejects.toThrow(/is after to/);
    await expect(store.listEvents({ environment, from: new Date('nope'), to: new Date() })).rejects.toThrow(
      /valid dates/,
    );
    await expect(
      store.listEvents({ environment, from: new Date('2020-01-01'), to: new Date('2025-01-01') }),
    ).rejects.toThrow(/at most 400/);
  });

  it('bounds stored evidence so one event cannot make an expensive item', async () => {
    const store = aStore();
    const long = 'E'.repeat(RUNNER_EVIDENCE_BOUNDS.maxLineChars + 100);
    const stall = aStallEvent({
      environment: 'evidence-env',
      ts: '2025-03-09T05:00:00.000Z',
      evidence: Array.from({ length: RUNNER_EVIDENCE_BOUNDS.maxLines + 5 }, (_, i) => `${i} ${long}`),
    });
    await store.put(stall);
    const [read] = (
      await store.listEvents({
        environment: 'evidence-env',
        from: new Date('2025-03-09T00:00:00Z'),
        to: new Date('2025-03-10T00:00:00Z'),
      })
    ).stalls;
    expect(read?.evidence).toHaveLength(RUNNER_EVIDENCE_BOUNDS.maxLines);
    expect(read?.evidence.every((line) => line.length === RUNNER_EVIDENCE_BOUNDS.maxLineChars)).toBe(true);
    expect(read?.evidence[0]?.startsWith('0 EEE')).toBe(true);
  });

  it('keeps an optional field of a run summary and leaves absent ones absent', async () => {
    const store = aStore();
    const stall = aStallEvent({ environment: 'runs-env', ts: '2025-03-09T06:00:00.000Z', timeout: 'hard' });
    const linked = aRunSummaryEvent({
      environment: 'runs-env',
      ts: '2025-03-09T06:00:00.500Z',
      outcome: 'hard_timeout',
      exitCode: 125,
      stallId: stall.id,
    });
    const plain = aRunSummaryEvent({ environment: 'runs-env', ts: '2025-03-09T06:01:00.000Z' });
    for (const event of [stall, linked, plain]) await store.put(event);
    const { runs } = await store.listEvents({
      environment: 'runs-env',
      from: new Date('2025-03-09T06:00:00Z'),
      to: new Date('2025-03-09T07:00:00Z'),
    });
    expect(runs).toEqual([linked, plain]);
    expect(runs[1]).not.toHaveProperty('stallId');
  });
});
