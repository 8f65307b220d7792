import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DrillEvidence } from '#contracts/replay-drill.js';
import type { DiscardedDeadLetter, ReplayRecords } from '#core/replay/steps.js';

/** Replayed envelopes are kept as long as SQS could still redeliver them. */
const REPLAY_BODY_TTL_SECONDS = 14 * 24 * 60 * 60;

/** Replay bodies, discarded dead letters and drill evidence in the lifecycle table. */
export class DynamoDbReplayRecords implements ReplayRecords {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #evidenceRetentionSeconds: number;

  public constructor(options: {
    readonly client: DynamoDBDocumentClient;
    readonly tableName: string;
    readonly retentionDays: number;
  }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#evidenceRetentionSeconds = options.retentionDays * 24 * 60 * 60;
  }

  public async saveReplayBodyOnce(commandId: string, body: string): Promise<string> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: {
            pk: `REPLAYBODY#${commandId}`,
            sk: 'REPLAYBODY',
            entity: 'ReplayBody',
            body,
            expiresAt: Math.floor(Date.now() / 1000) + REPLAY_BODY_TTL_SECONDS,
          },
          // The first body stays: every re-send of this replay is the same envelope.
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return body;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const stored = error.Item?.body?.S ?? (await this.getReplayBody(commandId));
      if (stored === undefined) throw new Error(`replay body of ${commandId} exists but could not be read`);
      return stored;
    }
  }

  public async getReplayBody(commandId: string): Promise<string | undefined> {
    const result = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: { pk: `REPLAYBODY#${commandId}`, sk: 'REPLAYBODY' },
        ConsistentRead: true,
      }),
    );
    return typeof result.Item?.body === 'string' ? result.Item.body : undefined;
  }

  public async recordDiscardedDeadLetter(record: DiscardedDeadLetter): Promise<void> {
    // Keyed by the dead letter: a drill run again after a crash writes the same item.
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          pk: `DEADLETTER#${record.commandId}`,
          sk: `DISCARDED#${record.messageId}`,
          entity: 'DiscardedDeadLetter',
          ...record,
          expiresAt: Math.floor(Date.now() / 1000) + this.#evidenceRetentionSeconds,
        },
      }),
    );
  }

  /** True when a drill with this id already recorded its evidence. */
  public async hasEvidence(drillId: string): Promise<boolean> {
    const result = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: { pk: `DRILL#${drillId}`, sk: 'EVIDENCE' },
        ConsistentRead: true,
      }),
    );
    return result.Item !== undefined;
  }

  public async saveEvidence(evidence: DrillEvidence): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          pk: `DRILL#${evidence.drillId}`,
          sk: 'EVIDENCE',
          entity: 'ReplayDrillEvidence',
          ...evidence,
          expiresAt: Math.floor(Date.now() / 1000) + this.#evidenceRetentionSeconds,
        },
      }),
    );
  }
}
