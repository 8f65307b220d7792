import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '#contracts/tables.js';
import {
  WORKER_HEARTBEAT_KINDS,
  type WorkerHeartbeatEvent,
  type WorkerHeartbeatKind,
} from '#contracts/worker-contract.js';
import type { WorkerRegistry, WorkerRegistryEntry } from '#core/workers/ports.js';
import type { Item } from './items.js';
import { retentionSeconds } from './retention.js';
import { compareKeys, queryPartitions } from './sharded-query.js';

/** What recording a heartbeat did: `stale` when the worker already has a newer one, `duplicate` for a resend. */
export type HeartbeatPutResult = 'stored' | 'stale' | 'duplicate';

export interface DynamoDbWorkerRegistryOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** The environment `list()` reads. */
  readonly environment: string;
  /**
   * Days an entry is kept after its last heartbeat (TTL `expiresAt`): a worker silent that long
   * drops out of the list.
   * @default 30
   */
  readonly retentionDays?: number;
}

/**
 * `WorkerRegistry` on the lifecycle table: one item per worker, `pk` = `WORKERS#<environment>#<shard>`
 * (the worker id's shard among `FLEET_SHARDS`, `keys.worker`), `sk` = `WORKER#<workerId>`,
 * so a fleet's heartbeats spread over the shards and an environment's workers are one Query per
 * shard, in parallel.
 *
 * Entries written before the sharding, in `WORKERS#<environment>`, are read too: `list()` merges a
 * worker found in both (newest `at` wins, the earliest `registeredAt` is kept), and the first
 * heartbeat that creates a worker's sharded entry folds its unsharded one in (its `registeredAt`
 * kept, then deleted unless newer than what was just stored), so that partition empties as the
 * fleet reports and is gone with its TTL.
 *
 * A registration or heartbeat is an UpdateItem conditional on `at` (the event's `ts` as UTC ISO
 * with ms, so offsets compare as instants) being older than the incoming one: the newest per
 * worker wins, and a heartbeat replayed from a spool after a newer one is `stale`.
 * `registeredAt` is set once (`if_not_exists`): from the first registration, or from the first
 * heartbeat seen if that registration never arrived. `lastKind` keeps the newest event's kind: a
 * `deregistration` (graceful shutdown) marks the worker stopped until a newer registration or
 * heartbeat; one older than the stored event is `stale` like any other.
 *
 * @example
 * const registry = new DynamoDbWorkerRegistry({ client: documents, tableName, environment: 'prod' });
 * await registry.putHeartbeat(heartbeat); // 'stored'; 'stale' for an older one of the same worker
 */
export class DynamoDbWorkerRegistry implements WorkerRegistry {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #environment: string;
  readonly #retentionSeconds: number;

  public constructor(options: DynamoDbWorkerRegistryOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#environment = options.environment;
    this.#retentionSeconds = retentionSeconds(options.retentionDays ?? 30);
  }

  public async recordHeartbeat(event: WorkerHeartbeatEvent): Promise<void> {
    await this.putHeartbeat(event);
  }

  /** {@link recordHeartbeat}, saying what it did. */
  public async putHeartbeat(event: WorkerHeartbeatEvent): Promise<HeartbeatPutResult> {
    const at = new Date(event.ts).toISOString();
    const fields: Record<string, unknown> = {
      entity: 'WorkerRegistration',
      workerId: event.worker_id,
      site: event.site,
      host: event.host,
      version: event.version,
      capabilities: event.capabilities,
      intervalMs: event.interval_ms,
      lastSeen: event.ts,
      offlineBacklog: event.offline_backlog,
      executing: event.executing,
      lastEventId: event.id,
      lastKind: event.kind,
      at,
      expiresAt: Math.floor(Date.parse(at) / 1000) + this.#retentionSeconds,
    };
    const names = Object.fromEntries(Object.keys(fields).map((name) => [`#${name}`, name]));
    const values = Object.fromEntries(Object.entries(fields).map(([name, value]) => [`:${name}`, value]));
    let created: boolean;
    try {
      const result = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.worker(event.environment, event.worker_id),
          UpdateExpression: `SET ${Object.keys(fields)
            .map((name) => `#${name} = :${name}`)
            .join(', ')}, #registeredAt = if_not_exists(#registeredAt, :at)`,
          ConditionExpression: 'attribute_not_exists(pk) OR #at < :at',
          ExpressionAttributeNames: { ...names, '#registeredAt': 'registeredAt' },
          ExpressionAttributeValues: values,
          ReturnValues: 'UPDATED_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      created = result.Attributes?.at === undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return error.Item?.lastEventId?.S === event.id ? 'duplicate' : 'stale';
    }
    if (created) await this.#foldUnsharded(event.environment, event.worker_id, at);
    return 'stored';
  }

  /** Every worker of the environment, sorted by worker id: each shard, and the unsharded partition. */
  public async list(): Promise<WorkerRegistryEntry[]> {
    const items = await queryPartitions(
      this.#client,
      keys.workerRegistryPartitions(this.#environment),
      (pk) => ({
        TableName: this.#tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
      }),
    );
    const byWorker = new Map<string, Item>();
    for (const item of items) {
      const sk = String(item.sk);
      const seen = byWorker.get(sk);
      byWorker.set(sk, seen === undefined ? item : mergeEntries(seen, item));
    }
    return [...byWorker.entries()].sort(([a], [b]) => compareKeys(a, b)).map(([, item]) => itemToEntry(item));
  }

  /**
   * A worker's first sharded entry was just written (`at`): its entry from before the sharding,
   * if any, gives its `registeredAt` and is deleted unless it is newer than `at` (then `list()`
   * keeps merging it until it expires). Each step is conditional, so a concurrent one is harmless.
   */
  async #foldUnsharded(environment: string, workerId: string, at: string): Promise<void> {
    const unsharded = keys.unshardedWorker(environment, workerId);
    const { Item: old } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: unsharded, ConsistentRead: true }),
    );
    if (old === undefined) return;
    const ignoreConditionFailure = (error: unknown) => {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    };
    if (typeof old.registeredAt === 'string') {
      await this.#client
        .send(
          new UpdateCommand({
            TableName: this.#tableName,
            Key: keys.worker(environment, workerId),
            UpdateExpression: 'SET #registeredAt = :registeredAt',
            ConditionExpression: 'attribute_exists(pk) AND #registeredAt > :registeredAt',
            ExpressionAttributeNames: { '#registeredAt': 'registeredAt' },
            ExpressionAttributeValues: { ':registeredAt': old.registeredAt },
          }),
        )
        .catch(ignoreConditionFailure);
    }
    await this.#client
      .send(
        new DeleteCommand({
          TableName: this.#tableName,
          Key: unsharded,
          ConditionExpression: '#at <= :at',
          ExpressionAttributeNames: { '#at': 'at' },
          ExpressionAttributeValues: { ':at': at },
        }),
      )
      .catch(ignoreConditionFailure);
  }
}

/**
 * One worker's entries found in two partitions (its sharded entry and one written before the
 * sharding): the newest (`at`) one, with the earliest `registeredAt` of both.
 */
function mergeEntries(a: Item, b: Item): Item {
  const at = (item: Item) => (typeof item.at === 'string' ? item.at : '');
  const newest = at(b) > at(a) ? b : a;
  const registered = [a.registeredAt, b.registeredAt].filter((value) => typeof value === 'string').sort();
  return registered.length > 0 ? { ...newest, registeredAt: registered[0] } : newest;
}

function itemToEntry(item: Item): WorkerRegistryEntry {
  return {
    workerId: String(item.workerId),
    site: String(item.site),
    host: String(item.host),
    version: String(item.version),
    capabilities: item.capabilities as WorkerRegistryEntry['capabilities'],
    intervalMs: Number(item.intervalMs),
    lastSeen: String(item.lastSeen),
    registeredAt: String(item.registeredAt),
    offlineBacklog: item.offlineBacklog as WorkerRegistryEntry['offlineBacklog'],
    executing: Number(item.executing),
    ...(isKind(item.lastKind) ? { lastKind: item.lastKind } : {}),
    ...(item.lastKind === 'deregistration' ? { stoppedAt: String(item.lastSeen) } : {}),
  };
}

function isKind(value: unknown): value is WorkerHeartbeatKind {
  return (WORKER_HEARTBEAT_KINDS as readonly unknown[]).includes(value);
}
