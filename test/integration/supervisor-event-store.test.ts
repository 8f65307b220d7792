import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoDbSupervisorEventStore, supervisorKeys } from '#adapters/dynamodb/supervisor-event-store.js';
import type { SupervisorChildEvent, SupervisorHealthEvent } from '#contracts/agent-events.js';
import { FLEET_SHARDS, shardOf } from '#contracts/tables.js';
import { useStoreTable } from '../support/store-table.js';
import { aChildEvent, aHealthEvent } from '../support/supervisor-event-fixtures.js';

/**
 * `DynamoDbSupervisorEventStore` on DynamoDB Local, in the real lifecycle
 * table layout: latest health per host by conditional put on `ts`, child
 * events appended once in day partitions.
 */
describe('DynamoDbSupervisorEventStore on DynamoDB Local', () => {
  const table = useStoreTable();
  const NOW = new Date('2025-03-09T12:00:00.000Z');

  function aStore(options: { pageSize?: number; retentionDays?: number } = {}) {
    return new DynamoDbSupervisorEventStore({ ...table.storeOptions(NOW), ...options });
  }

  const latestItem = (environment: string, host: string) =>
    table.item(supervisorKeys.latestHealth({ environment, host }));

  it('keeps the newest report per host: an older one arriving later is stale and changes nothing', async () => {
    const store = aStore({ retentionDays: 14 });
    const first = aHealthEvent({ environment: 'latest-env', ts: '2025-03-09T10:00:00.000Z' });
    const newer = aHealthEvent({
      environment: 'latest-env',
      ts: '2025-03-09T10:05:00.000Z',
      dashboardLink: 'disconnected',
    });
    // Sampled between the two, spooled while offline, replayed last.
    const replayed = aHealthEvent({ environment: 'latest-env', ts: '2025-03-09T10:03:00.000Z' });

    await expect(store.putHealth(first)).resolves.toBe('stored');
    await expect(store.putHealth(newer)).resolves.toBe('stored');
    const item = await latestItem('latest-env', 'sup-01');
    expect(item).toMatchObject({
      pk: `SUPERVISOR#latest-env#${shardOf('sup-01', FLEET_SHARDS)}`,
      sk: 'HOST#sup-01',
      entity: 'SupervisorHealth',
      id: newer.id,
      at: '2025-03-09T10:05:00.000Z',
      receivedAt: NOW.toISOString(),
      expiresAt: NOW.getTime() / 1000 + 14 * 24 * 60 * 60,
    });
    for (const attribute of ['correlationKey', 'issuedAt', 'reviewQueue', 'needsReviewSince']) {
      expect(item).not.toHaveProperty(attribute);
    }

    await expect(store.putHealth(replayed)).resolves.toBe('stale');
    await expect(store.putHealth(first)).resolves.toBe('stale');
    await expect(store.putHealth({ ...newer })).resolves.toBe('duplicate');
    // Same instant, another report: not newer, so not kept.
    await expect(store.putHealth(aHealthEvent({ environment: 'latest-env', ts: newer.ts }))).resolves.toBe(
      'stale',
    );
    expect(await latestItem('latest-env', 'sup-01')).toEqual(item);
    expect(await store.listSupervisorHealth('latest-env')).toEqual([newer]);
  });

  it('compares ts as instants: a later report written with an offset still wins', async () => {
    const store = aStore();
    const utc = aHealthEvent({ environment: 'offset-env', ts: '2025-03-09T10:00:00.000Z' });
    // 11:30+02:00 is 09:30Z: older, although it sorts after as a string.
    const earlier = aHealthEvent({ environment: 'offset-env', ts: '2025-03-09T11:30:00+02:00' });
    const later = aHealthEvent({ environment: 'offset-env', ts: '2025-03-09T12:30:00+02:00' });
    await store.putHealth(utc);
    await expect(store.putHealth(earlier)).resolves.toBe('stale');
    await expect(store.putHealth(later)).resolves.toBe('stored');
    expect(await store.listSupervisorHealth('offset-env')).toEqual([later]);
  });

  it('lists every host’s latest report of one environment, sorted by host, across pages', async () => {
    const store = aStore({ pageSize: 2 });
    const hosts = ['sup-c', 'sup-a', 'RUN', 'sup-b', 'sup-d'];
    for (const host of hosts) {
      await store.putHealth(aHealthEvent({ environment: 'list-env', host, ts: '2025-03-09T09:00:00.000Z' }));
    }
    const latestB = aHealthEvent({ environment: 'list-env', host: 'sup-b', ts: '2025-03-09T09:01:00.000Z' });
    await store.putHealth(latestB);
    await store.putHealth(aHealthEvent({ environment: 'list-env-other', host: 'sup-z' }));
    // A child event of the environment lives in a day partition, not among the hosts.
    await store.putChildEvent(aChildEvent({ environment: 'list-env' }));

    const listed = await store.listSupervisorHealth('list-env');
    expect(listed.map((h) => h.host)).toEqual(['RUN', 'sup-a', 'sup-b', 'sup-c', 'sup-d']);
    expect(listed.find((h) => h.host === 'sup-b')).toEqual(latestB);
    expect(await store.listSupervisorHealth('nobody')).toEqual([]);
  });

  it('appends child events once per id under their day partition; a resend is a duplicate', async () => {
    const store = aStore();
    const exit = aChildEvent({ environment: 'child-env', ts: '2025-03-09T10:15:00.123Z' });
    await expect(store.putChildEvent(exit)).resolves.toBe('stored');
    await expect(store.putChildEvent({ ...exit })).resolves.toBe('duplicate');
    const item = await table.item(supervisorKeys.childEvent(exit));
    expect(item).toMatchObject({
      pk: `SUPERVISOR#child-env#2025-03-09#${shardOf(exit.id, FLEET_SHARDS)}`,
      sk: `2025-03-09T10:15:00.123Z#child#${exit.id}`,
      entity: 'SupervisorChild',
      exit: { kind: 'Failed', code: 1, reason: 'exit status 1' },
    });
    expect(
      await store.listSupervisorChildEvents({
        environment: 'child-env',
        from: new Date('2025-03-09T00:00:00Z'),
        to: new Date('2025-03-10T00:00:00Z'),
      }),
    ).toEqual([exit]);
  });

  it('lists child events of a window over several days, half-open, sorted by ts', async () => {
    const store = aStore({ pageSize: 1 });
    const at = (ts: string, event: 'exited' | 'quarantined' = 'exited') =>
      aChildEvent({ environment: 'window-env', ts, event });
    const before = at('2025-03-06T23:59:59.999Z');
    const first = at('2025-03-07T00:00:00.000Z');
    const middle = at('2025-03-08T12:00:00.000Z', 'quarantined');
    const last = at('2025-03-09T08:59:59.999Z');
    const atTo = at('2025-03-09T09:00:00.000Z');
    for (const event of [last, atTo, before, middle, first]) await store.putChildEvent(event);

    const listed = await store.listSupervisorChildEvents({
      environment: 'window-env',
      from: new Date('2025-03-07T00:00:00.000Z'),
      to: new Date('2025-03-09T09:00:00.000Z'),
    });
    expect(listed).toEqual([first, middle, last]);
  });

  async function itemsOf(pk: string): Promise<Record<string, unknown>[]> {
    const page = await table.client.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
      }),
    );
    return page.Items ?? [];
  }

  /** A health report as the release before the sharding stored it, in `SUPERVISOR#<env>`. */
  async function putUnshardedHealth(event: SupervisorHealthEvent) {
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          pk: `SUPERVISOR#${event.environment}`,
          sk: `HOST#${event.host}`,
          entity: 'SupervisorHealth',
          ...event,
          at: new Date(event.ts).toISOString(),
          receivedAt: event.ts,
          expiresAt: 2_000_000_000,
        },
      }),
    );
  }

  /** A child event as the release before the sharding stored it, in `SUPERVISOR#<env>#<day>`. */
  async function putUnshardedChild(event: SupervisorChildEvent) {
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          pk: `SUPERVISOR#${event.environment}#${event.ts.slice(0, 10)}`,
          sk: `${event.ts}#child#${event.id}`,
          entity: 'SupervisorChild',
          ...event,
          receivedAt: event.ts,
          expiresAt: 2_000_000_000,
        },
      }),
    );
  }

  it('spreads 64 hosts over the shards of their names and lists each host once, sorted by host', async () => {
    const store = aStore({ pageSize: 3 });
    const environment = 'fleet-env';
    const hosts = Array.from({ length: 64 }, (_, i) => `sup-${String(i).padStart(2, '0')}`);
    const reports = hosts.map((host) => aHealthEvent({ environment, host, ts: '2025-03-09T09:00:00.000Z' }));
    for (const report of [...reports].reverse()) await store.putHealth(report);

    const perShard = await Promise.all(
      Array.from({ length: FLEET_SHARDS }, (_, n) => itemsOf(`SUPERVISOR#${environment}#${n}`)),
    );
    expect(perShard.filter((items) => items.length > 0).length).toBeGreaterThan(1);
    expect(perShard.flat()).toHaveLength(64);
    for (const [n, items] of perShard.entries()) {
      for (const item of items) expect(shardOf(String(item.host), FLEET_SHARDS)).toBe(n);
    }
    expect(await itemsOf(`SUPERVISOR#${environment}`)).toEqual([]);
    expect(await store.listSupervisorHealth(environment)).toEqual(reports);
  });

  it('lists reports stored before the sharding; a host in both partitions gives its newest report, once', async () => {
    const store = aStore();
    const environment = 'legacy-health-env';
    const at = (host: string, ts: string) => aHealthEvent({ environment, host, ts });
    // Only before the sharding.
    const silent = at('sup-a', '2025-03-01T00:00:00.000Z');
    // Reported again since: the new report wins.
    const oldB = at('sup-b', '2025-03-09T08:00:00.000Z');
    const newB = at('sup-b', '2025-03-09T09:00:00.000Z');
    // A replay older than its stored report arrived first after the sharding: the stored one wins.
    const storedC = at('sup-c', '2025-03-09T09:00:00.000Z');
    const replayedC = at('sup-c', '2025-03-09T08:30:00.000Z');
    for (const report of [silent, oldB, storedC]) await putUnshardedHealth(report);
    for (const report of [newB, replayedC]) await store.putHealth(report);

    expect(await store.listSupervisorHealth(environment)).toEqual([silent, newB, storedC]);
  });

  it("spreads a day's child events over the shards of their ids; lists events stored before the sharding, each once", async () => {
    const store = aStore({ pageSize: 4 });
    const environment = 'fleet-child-env';
    const events = Array.from({ length: 64 }, (_, i) =>
      aChildEvent({
        environment,
        id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        ts: new Date(Date.parse('2025-03-09T08:00:00.000Z') + i * 1000).toISOString(),
      }),
    );
    for (const event of events) await store.putChildEvent(event);
    const perShard = await Promise.all(
      Array.from({ length: FLEET_SHARDS }, (_, n) => itemsOf(`SUPERVISOR#${environment}#2025-03-09#${n}`)),
    );
    expect(perShard.filter((items) => items.length > 0).length).toBeGreaterThan(1);
    expect(perShard.flat()).toHaveLength(64);
    for (const [n, items] of perShard.entries()) {
      for (const item of items) expect(shardOf(String(item.id), FLEET_SHARDS)).toBe(n);
    }

    // Before the sharding: one event only there, one resent after the sharding (so stored twice).
    const before = aChildEvent({ environment, ts: '2025-03-09T07:00:00.000Z' });
    const resent = aChildEvent({ environment, ts: '2025-03-09T07:30:00.000Z' });
    await putUnshardedChild(before);
    await putUnshardedChild(resent);
    await expect(store.putChildEvent(resent)).resolves.toBe('stored');

    expect(
      await store.listSupervisorChildEvents({
        environment,
        from: new Date('2025-03-09T00:00:00Z'),
        to: new Date('2025-03-10T00:00:00Z'),
      }),
    ).toEqual([before, resent, ...events]);
  });

  it('refuses a reversed or over-long window', async () => {
    const store = aStore();
    await expect(
      store.listSupervisorChildEvents({ environment: 'x', from: NOW, to: new Date(NOW.getTime() - 1) }),
    ).rejects.toThrow(/is after to/);
    await expect(
      store.listSupervisorChildEvents({ environment: 'x', from: new Date('2020-01-01'), to: NOW }),
    ).rejects.toThrow(/at most 400/);
  });
});
