import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '#contracts/tables.js';
import {
  WORKER_HEARTBEAT_KINDS,
  type WorkerHeartbeatEvent,
  type WorkerHeartbeatKind,
} from '#contracts/worker-contract.js';
import type { WorkerRegistry, WorkerRegistryEntry } from '#core/workers/ports.js';
import type { Item } from './items.js';
import { retentionSeconds } from './retention.js';

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
 * `WorkerRegistry` on the lifecycle table: one item per worker, `pk` = `WORKERS#<environment>`,
 * `sk` = `WORKER#<workerId>`, so an environment's workers are one Query.
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
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.worker(event.environment, event.worker_id),
          UpdateExpression: `SET ${Object.keys(fields)
            .map((name) => `#${name} = :${name}`)
            .join(', ')}, #registeredAt = if_not_exists(#registeredAt, :at)`,
          ConditionExpression: 'attribute_not_exists(pk) OR #at < :at',
          ExpressionAttributeNames: { ...names, '#registeredAt': 'registeredAt' },
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'stored';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return error.Item?.lastEventId?.S === event.id ? 'duplicate' : 'stale';
    }
  }

  /** Every worker of the environment, sorted by worker id. */
  public async list(): Promise<WorkerRegistryEntry[]> {
    const items: Item[] = [];
    let cursor: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.workerRegistryPartition(this.#environment) },
          ConsistentRead: true,
          ExclusiveStartKey: cursor,
        }),
      );
      items.push(...(page.Items ?? []));
      cursor = page.LastEvaluatedKey;
    } while (cursor);
    return items.map(itemToEntry);
  }
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
