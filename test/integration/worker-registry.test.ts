import { randomUUID } from 'node:crypto';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbDelegationFlagStore } from '#adapters/dynamodb/worker-delegation-flag.js';
import { DynamoDbWorkerRegistry } from '#adapters/dynamodb/worker-registry.js';
import { FLEET_SHARDS, keys, shardOf } from '#contracts/tables.js';
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
      pk: `WORKERS#${envName}#${shardOf('worker-1', FLEET_SHARDS)}`,
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

describe('DynamoDbWorkerRegistry sharded over FLEET_SHARDS', () => {
  let env: TestEnvironment<string>;
  let tableName: string;

  beforeAll(async () => {
    env = await createTestEnvironment({ lanes: [] });
    tableName = env.tableName ?? '';
  });
  afterAll(() => env?.cleanup());

  async function itemsOf(pk: string): Promise<Record<string, unknown>[]> {
    const page = await env.documentClient.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
      }),
    );
    return page.Items ?? [];
  }

  /** A registry entry as the release before the sharding wrote it, in `WORKERS#<env>`. */
  async function putUnsharded(
    environment: string,
    workerId: string,
    fields: { at: string; registeredAt: string; lastKind?: string },
  ) {
    await env.documentClient.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          pk: `WORKERS#${environment}`,
          sk: `WORKER#${workerId}`,
          entity: 'WorkerRegistration',
          workerId,
          site: 'lab',
          host: 'old-host',
          version: '0.9.0',
          capabilities: { kinds: ['collect_facts'], scripts: [], plugins: [] },
          intervalMs: 30_000,
          lastSeen: fields.at,
          offlineBacklog: { files: 0, bytes: 0 },
          executing: 0,
          lastEventId: randomUUID(),
          lastKind: fields.lastKind ?? 'heartbeat',
          at: fields.at,
          registeredAt: fields.registeredAt,
          expiresAt: 2_000_000_000,
        },
      }),
    );
  }

  it('spreads 64 workers over the shards of their ids and lists each once, sorted by worker id', async () => {
    const environment = `fleet-${randomUUID().slice(0, 6)}`;
    const registry = new DynamoDbWorkerRegistry({ client: env.documentClient, tableName, environment });
    const ids = Array.from({ length: 64 }, (_, i) => `worker-${String(i).padStart(2, '0')}`);
    for (const workerId of [...ids].reverse()) {
      await registry.putHeartbeat(aHeartbeat({ environment, worker_id: workerId }));
    }
    const perShard = await Promise.all(
      Array.from({ length: FLEET_SHARDS }, (_, n) => itemsOf(`WORKERS#${environment}#${n}`)),
    );
    expect(perShard.filter((items) => items.length > 0).length).toBeGreaterThan(1);
    expect(perShard.flat()).toHaveLength(64);
    for (const [n, items] of perShard.entries()) {
      for (const item of items) expect(shardOf(String(item.workerId), FLEET_SHARDS)).toBe(n);
    }
    expect(await itemsOf(`WORKERS#${environment}`)).toEqual([]);
    expect((await registry.list()).map((w) => w.workerId)).toEqual(ids);
  });

  it('lists entries written before the sharding; the first sharded heartbeat folds its old entry in (registeredAt kept, old entry deleted)', async () => {
    const environment = `legacy-${randomUUID().slice(0, 6)}`;
    const registry = new DynamoDbWorkerRegistry({ client: env.documentClient, tableName, environment });
    await putUnsharded(environment, 'silent', {
      at: '2025-12-20T00:00:00.000Z',
      registeredAt: '2025-12-01T00:00:00.000Z',
    });
    await putUnsharded(environment, 'active', {
      at: '2025-12-31T00:00:00.000Z',
      registeredAt: '2025-11-01T00:00:00.000Z',
    });

    expect((await registry.list()).map((w) => [w.workerId, w.registeredAt])).toEqual([
      ['active', '2025-11-01T00:00:00.000Z'],
      ['silent', '2025-12-01T00:00:00.000Z'],
    ]);

    expect(
      await registry.putHeartbeat(
        aHeartbeat({ environment, worker_id: 'active', ts: '2026-01-01T00:00:00.000Z' }),
      ),
    ).toBe('stored');
    const listed = await registry.list();
    expect(listed.map((w) => w.workerId)).toEqual(['active', 'silent']);
    expect(listed[0]).toMatchObject({
      workerId: 'active',
      host: 'host-1',
      lastSeen: '2026-01-01T00:00:00.000Z',
      registeredAt: '2025-11-01T00:00:00.000Z',
    });
    // Folded: the sharded entry holds the first registration, the old one is gone; the silent worker's stays.
    const sharded = await env.documentClient.send(
      new GetCommand({ TableName: tableName, Key: keys.worker(environment, 'active') }),
    );
    expect(sharded.Item?.registeredAt).toBe('2025-11-01T00:00:00.000Z');
    expect((await itemsOf(`WORKERS#${environment}`)).map((item) => item.workerId)).toEqual(['silent']);
  });

  it('keeps an old entry newer than the first sharded heartbeat (a replay) and lists the newest of the two, once', async () => {
    const environment = `legacy-${randomUUID().slice(0, 6)}`;
    const registry = new DynamoDbWorkerRegistry({ client: env.documentClient, tableName, environment });
    await putUnsharded(environment, 'w', {
      at: '2026-01-01T00:05:00.000Z',
      registeredAt: '2025-12-01T00:00:00.000Z',
    });
    // Spooled before the old entry's heartbeat, replayed after the sharding.
    await registry.putHeartbeat(aHeartbeat({ environment, worker_id: 'w', ts: '2026-01-01T00:01:00.000Z' }));

    expect(await registry.list()).toEqual([
      expect.objectContaining({
        workerId: 'w',
        host: 'old-host',
        lastSeen: '2026-01-01T00:05:00.000Z',
        registeredAt: '2025-12-01T00:00:00.000Z',
      }),
    ]);
    expect(await itemsOf(`WORKERS#${environment}`)).toHaveLength(1);

    // Newer than both: the sharded entry wins.
    await registry.putHeartbeat(aHeartbeat({ environment, worker_id: 'w', ts: '2026-01-01T00:10:00.000Z' }));
    expect(await registry.list()).toEqual([
      expect.objectContaining({
        host: 'host-1',
        lastSeen: '2026-01-01T00:10:00.000Z',
        registeredAt: '2025-12-01T00:00:00.000Z',
      }),
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
