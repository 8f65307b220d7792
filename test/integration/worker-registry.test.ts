import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbDelegationFlagStore } from '#adapters/dynamodb/worker-delegation-flag.js';
import { DynamoDbWorkerRegistry } from '#adapters/dynamodb/worker-registry.js';
import { keys } from '#contracts/tables.js';
import { workerStatus } from '#contracts/worker-contract.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';
import { aHeartbeat } from '../support/worker-fixtures.js';

/** The worker registry and the delegation flag on DynamoDB Local, in the lifecycle table. */
describe('DynamoDbWorkerRegistry on DynamoDB Local', () => {
  let env: TestEnvironment<string>;
  let tableName: string;

  beforeAll(async () => {
    env = await createTestEnvironment({ lanes: [] });
    tableName = env.tableName ?? '';
  });
  afterAll(() => env?.cleanup());

  function aRegistry(environment = `reg-${randomUUID().slice(0, 6)}`) {
    return new DynamoDbWorkerRegistry({ client: env.documentClient, tableName, environment });
  }

  it('keeps the newest heartbeat per worker; an older replay is stale, a resend a duplicate', async () => {
    const envName = `reg-${randomUUID().slice(0, 6)}`;
    const store = aRegistry(envName);
    const registration = aHeartbeat({
      environment: envName,
      kind: 'registration',
      ts: '2026-01-01T00:00:00.000Z',
    });
    const newer = aHeartbeat({
      environment: envName,
      ts: '2026-01-01T00:01:00.000Z',
      executing: 2,
      offline_backlog: { files: 4, bytes: 2048 },
      version: '1.1.0',
    });
    // Written offline between the two (00:00:30 UTC, sent with an offset), replayed last.
    const replayed = aHeartbeat({ environment: envName, ts: '2026-01-01T01:00:30.000+01:00' });

    expect(await store.putHeartbeat(registration)).toBe('stored');
    expect(await store.putHeartbeat(newer)).toBe('stored');
    expect(await store.putHeartbeat(replayed)).toBe('stale');
    expect(await store.putHeartbeat(newer)).toBe('duplicate');

    expect(await store.list()).toEqual([
      {
        workerId: 'worker-1',
        site: 'lab',
        host: 'host-1',
        version: '1.1.0',
        capabilities: newer.capabilities,
        intervalMs: 30_000,
        lastSeen: '2026-01-01T00:01:00.000Z',
        registeredAt: '2026-01-01T00:00:00.000Z',
        offlineBacklog: { files: 4, bytes: 2048 },
        executing: 2,
        lastKind: 'heartbeat',
      },
    ]);
    const item = await env.documentClient.send(
      new GetCommand({ TableName: tableName, Key: keys.worker(envName, 'worker-1') }),
    );
    expect(item.Item).toMatchObject({
      pk: `WORKERS#${envName}`,
      sk: 'WORKER#worker-1',
      entity: 'WorkerRegistration',
    });
  });

  it('keeps registeredAt from the first registration across later registrations', async () => {
    const envName = `reg-${randomUUID().slice(0, 6)}`;
    const store = aRegistry(envName);
    await store.recordHeartbeat(
      aHeartbeat({ environment: envName, kind: 'registration', ts: '2026-01-01T00:00:00.000Z' }),
    );
    await store.recordHeartbeat(
      aHeartbeat({ environment: envName, kind: 'registration', ts: '2026-01-02T00:00:00.000Z' }),
    );
    expect(await store.list()).toMatchObject([
      { registeredAt: '2026-01-01T00:00:00.000Z', lastSeen: '2026-01-02T00:00:00.000Z' },
    ]);
  });

  it('marks a worker stopped by a newer deregistration; an older one is stale; a later registration brings it back', async () => {
    const envName = `reg-${randomUUID().slice(0, 6)}`;
    const store = aRegistry(envName);
    const heartbeat = aHeartbeat({ environment: envName, ts: '2026-01-01T00:01:00.000Z' });
    await store.putHeartbeat(
      aHeartbeat({ environment: envName, kind: 'registration', ts: '2026-01-01T00:00:00.000Z' }),
    );
    await store.putHeartbeat(heartbeat);
    // A deregistration older than the stored heartbeat (a delayed resend) changes nothing.
    expect(
      await store.putHeartbeat(
        aHeartbeat({ environment: envName, kind: 'deregistration', ts: '2026-01-01T00:00:30.000Z' }),
      ),
    ).toBe('stale');
    expect(await store.list()).toMatchObject([{ lastKind: 'heartbeat' }]);
    expect((await store.list())[0]).not.toHaveProperty('stoppedAt');

    const deregistration = aHeartbeat({
      environment: envName,
      kind: 'deregistration',
      ts: '2026-01-01T00:02:00.000Z',
      executing: 0,
    });
    expect(await store.putHeartbeat(deregistration)).toBe('stored');
    expect(await store.putHeartbeat(deregistration)).toBe('duplicate');
    // A heartbeat replayed from before the stop does not revive it.
    expect(await store.putHeartbeat(heartbeat)).toBe('stale');
    expect(
      await store.putHeartbeat(aHeartbeat({ environment: envName, ts: '2026-01-01T00:01:30.000Z' })),
    ).toBe('stale');
    const [stopped] = await store.list();
    expect(stopped).toMatchObject({
      lastKind: 'deregistration',
      stoppedAt: '2026-01-01T00:02:00.000Z',
      lastSeen: '2026-01-01T00:02:00.000Z',
      registeredAt: '2026-01-01T00:00:00.000Z',
    });
    expect(stopped && workerStatus(stopped, new Date('2026-01-01T00:02:01.000Z'))).toBe('stopped');
    expect(stopped && workerStatus(stopped, new Date('2026-02-01T00:00:00.000Z'))).toBe('stopped');

    expect(
      await store.putHeartbeat(
        aHeartbeat({ environment: envName, kind: 'registration', ts: '2026-01-01T00:10:00.000Z' }),
      ),
    ).toBe('stored');
    const [back] = await store.list();
    expect(back).toMatchObject({ lastKind: 'registration', lastSeen: '2026-01-01T00:10:00.000Z' });
    expect(back).not.toHaveProperty('stoppedAt');
    expect(back && workerStatus(back, new Date('2026-01-01T00:10:01.000Z'))).toBe('online');
  });

  it('lists only its environment’s workers, every site', async () => {
    const envName = `reg-${randomUUID().slice(0, 6)}`;
    const store = aRegistry(envName);
    await store.recordHeartbeat(aHeartbeat({ environment: envName, worker_id: 'b', site: 'edge' }));
    await store.recordHeartbeat(aHeartbeat({ environment: envName, worker_id: 'a', site: 'lab' }));
    await store.recordHeartbeat(aHeartbeat({ environment: 'elsewhere', worker_id: 'c' }));
    expect((await store.list()).map((w) => [w.workerId, w.site])).toEqual([
      ['a', 'lab'],
      ['b', 'edge'],
    ]);
  });
});

describe('DynamoDbDelegationFlagStore on DynamoDB Local', () => {
  let env: TestEnvironment<string>;

  beforeAll(async () => {
    env = await createTestEnvironment({ lanes: [] });
  });
  afterAll(() => env?.cleanup());

  function aFlag(environment: string, defaultEnabled: boolean) {
    return new DynamoDbDelegationFlagStore({
      client: env.documentClient,
      tableName: env.tableName ?? '',
      environment,
      defaultEnabled,
    });
  }

  it('answers the deploy-time default until set, then what was set, per environment', async () => {
    expect(await aFlag('a', false).get()).toEqual({ enabled: false });
    expect(await aFlag('a', true).get()).toEqual({ enabled: true });
    await aFlag('a', false).set({
      enabled: true,
      changedBy: 'alice',
      now: new Date('2026-01-01T00:00:00.000Z'),
    });
    expect(await aFlag('a', false).get()).toEqual({
      enabled: true,
      changedBy: 'alice',
      changedAt: '2026-01-01T00:00:00.000Z',
    });
    await aFlag('a', false).set({
      enabled: false,
      changedBy: 'bob',
      now: new Date('2026-01-01T00:01:00.000Z'),
    });
    expect(await aFlag('a', true).get()).toMatchObject({ enabled: false, changedBy: 'bob' });
    expect(await aFlag('b', false).get()).toEqual({ enabled: false });
  });
});
