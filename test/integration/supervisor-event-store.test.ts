import { describe, expect, it } from 'vitest';
import { DynamoDbSupervisorEventStore, supervisorKeys } from '#adapters/dynamodb/supervisor-event-store.js';
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
      pk: 'SUPERVISOR#latest-env',
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
      pk: 'SUPERVISOR#child-env#2025-03-09',
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
