/**
 * The SQS emulator's queues and messages on disk (node:sqlite), so that a restart on the same
 * data folder, even after `kill -9`, finds every message the emulator acknowledged: sent, in
 * flight (with its receipt handle, deadline and receive count), made visible again, moved to a DLQ.
 *
 * fauxqs' SQS store calls a write-through `persistence` object on every change. fauxqs 2.4.1 (the
 * newest release) ships one, `PersistenceManager`, that cannot be trusted with that:
 * - `ChangeMessageVisibility` to 0 writes NULL into the NOT NULL `approximate_receive_count`. The
 *   request fails (500) after the message has left the in-flight set and before it is visible
 *   again, so the message vanishes until the next restart; `runlane dlq list`, which peeks at each
 *   dead letter and releases it that way, failed with `NOT NULL constraint failed`.
 * - A move to the DLQ is two separate writes (delete, insert): a kill between them loses it.
 * - Tagging a queue re-inserts it with `INSERT OR REPLACE`, whose delete cascades to its messages.
 *
 * This journal takes its place. Same tables, same file (`fauxqs.db`), so existing data folders
 * load. A message made visible again keeps its receive count. The writes of one synchronous turn
 * (one request: a receive with its DLQ moves, a batch send…) are one SQLite transaction, committed
 * before the reply can leave: in a microtask queued by the first write, and again in the server's
 * `onSend` hook (`commit()`). WAL with `synchronous = NORMAL`: a committed transaction survives
 * the process being killed (the OS has it); only an OS crash or power loss may lose the last ones.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { buildApp } from 'fauxqs';

/** What fauxqs' `buildApp` takes as `stores`. */
export type FauxqsStores = NonNullable<NonNullable<Parameters<typeof buildApp>[0]>['stores']>;
/** fauxqs' SQS store (its class is not exported; the type is, through `buildApp`'s options). */
export type FauxqsSqsStore = FauxqsStores['sqsStore'];
type FauxqsQueue = ReturnType<FauxqsSqsStore['createQueue']>;
type FauxqsMessage = FauxqsQueue['messages'][number];
/** The calls fauxqs' SQS store and queues make on their `persistence` (fauxqs 2.4.1). */
type SqsPersistenceCalls = Pick<
  NonNullable<FauxqsSqsStore['persistence']>,
  | 'insertQueue'
  | 'deleteQueue'
  | 'updateQueueAttributes'
  | 'updateQueueSequenceCounter'
  | 'insertMessage'
  | 'deleteMessage'
  | 'updateMessageInflight'
  | 'updateMessageReady'
  | 'deleteQueueMessages'
>;

/** The database file, named as fauxqs names it so data folders written by fauxqs' own persistence load. */
const SQS_JOURNAL_FILE = 'fauxqs.db';
/** fauxqs' group of a FIFO message sent without one. */
const DEFAULT_FIFO_GROUP = '__default';

// fauxqs 2.4.1's layout of these two tables, unchanged.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS sqs_queues (
  name TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  arn TEXT NOT NULL,
  attributes TEXT NOT NULL,
  tags TEXT NOT NULL,
  created_timestamp INTEGER NOT NULL,
  last_modified_timestamp INTEGER NOT NULL,
  sequence_counter INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sqs_messages (
  message_id TEXT PRIMARY KEY,
  queue_name TEXT NOT NULL REFERENCES sqs_queues(name) ON DELETE CASCADE,
  body TEXT NOT NULL,
  md5_of_body TEXT NOT NULL,
  message_attributes TEXT NOT NULL,
  md5_of_message_attributes TEXT NOT NULL,
  sent_timestamp INTEGER NOT NULL,
  approximate_receive_count INTEGER NOT NULL DEFAULT 0,
  approximate_first_receive_timestamp INTEGER,
  delay_until INTEGER,
  message_group_id TEXT,
  message_deduplication_id TEXT,
  sequence_number TEXT,
  receipt_handle TEXT,
  visibility_deadline INTEGER
);`;

const SQL = {
  // An upsert, not INSERT OR REPLACE: replacing the row would cascade to the queue's messages.
  upsertQueue: `INSERT INTO sqs_queues (name, url, arn, attributes, tags, created_timestamp, last_modified_timestamp, sequence_counter)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET url = excluded.url, arn = excluded.arn, attributes = excluded.attributes,
      tags = excluded.tags, last_modified_timestamp = excluded.last_modified_timestamp,
      sequence_counter = excluded.sequence_counter`,
  deleteQueue: 'DELETE FROM sqs_queues WHERE name = ?',
  deleteQueueMessages: 'DELETE FROM sqs_messages WHERE queue_name = ?',
  updateQueueAttributes: 'UPDATE sqs_queues SET attributes = ?, last_modified_timestamp = ? WHERE name = ?',
  updateQueueSequenceCounter: 'UPDATE sqs_queues SET sequence_counter = ? WHERE name = ?',
  // A message moved to a DLQ keeps its id: the upsert moves the row (fauxqs deletes it first anyway).
  upsertMessage: `INSERT INTO sqs_messages (message_id, queue_name, body, md5_of_body, message_attributes,
      md5_of_message_attributes, sent_timestamp, approximate_receive_count, approximate_first_receive_timestamp,
      delay_until, message_group_id, message_deduplication_id, sequence_number, receipt_handle, visibility_deadline)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)
    ON CONFLICT (message_id) DO UPDATE SET queue_name = excluded.queue_name, body = excluded.body,
      md5_of_body = excluded.md5_of_body, message_attributes = excluded.message_attributes,
      md5_of_message_attributes = excluded.md5_of_message_attributes, sent_timestamp = excluded.sent_timestamp,
      approximate_receive_count = excluded.approximate_receive_count,
      approximate_first_receive_timestamp = excluded.approximate_first_receive_timestamp,
      delay_until = excluded.delay_until, message_group_id = excluded.message_group_id,
      message_deduplication_id = excluded.message_deduplication_id, sequence_number = excluded.sequence_number,
      receipt_handle = NULL, visibility_deadline = NULL`,
  deleteMessage: 'DELETE FROM sqs_messages WHERE message_id = ?',
  markInflight: `UPDATE sqs_messages SET receipt_handle = ?, visibility_deadline = ?, approximate_receive_count = ?,
    approximate_first_receive_timestamp = ? WHERE message_id = ?`,
  // Visible again: no receipt handle, no deadline; the receive count stays.
  markReady: 'UPDATE sqs_messages SET receipt_handle = NULL, visibility_deadline = NULL WHERE message_id = ?',
  loadQueues: 'SELECT * FROM sqs_queues ORDER BY rowid',
  loadMessages: 'SELECT * FROM sqs_messages WHERE queue_name = ? ORDER BY rowid',
} as const;

type Statements = { readonly [K in keyof typeof SQL]: StatementSync };

interface QueueRow {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly attributes: string;
  readonly tags: string;
  readonly created_timestamp: number;
  readonly last_modified_timestamp: number;
  readonly sequence_counter: number;
}

interface MessageRow {
  readonly message_id: string;
  readonly body: string;
  readonly md5_of_body: string;
  readonly message_attributes: string;
  readonly md5_of_message_attributes: string;
  readonly sent_timestamp: number;
  readonly approximate_receive_count: number | null;
  readonly approximate_first_receive_timestamp: number | null;
  readonly delay_until: number | null;
  readonly message_group_id: string | null;
  readonly message_deduplication_id: string | null;
  readonly sequence_number: string | null;
  readonly receipt_handle: string | null;
  readonly visibility_deadline: number | null;
}

/**
 * @example
 * const journal = new SqsJournal(join(dataDir, 'sqs'));
 * journal.attach(sqsStore); // loads what is on disk, then writes every change through
 * const app = buildApp({ stores: { sqsStore } as FauxqsStores });
 * app.addHook('onSend', async (_request, _reply, payload) => { journal.commit(); return payload; });
 * app.addHook('preClose', () => journal.close());
 */
export class SqsJournal implements SqsPersistenceCalls {
  readonly #db: DatabaseSync;
  readonly #statements: Statements;
  #inTransaction = false;
  #closed = false;

  /** Opens (or creates) `<dir>/fauxqs.db`; throws when the file is not a database. */
  public constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.#db = new DatabaseSync(join(dir, SQS_JOURNAL_FILE), { enableForeignKeyConstraints: true });
    try {
      this.#db.exec('PRAGMA journal_mode = WAL');
      this.#db.exec('PRAGMA synchronous = NORMAL');
      this.#db.exec(SCHEMA);
      this.#statements = Object.fromEntries(
        Object.entries(SQL).map(([name, sql]) => [name, this.#db.prepare(sql)]),
      ) as unknown as Statements;
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  /**
   * Puts the queues and messages on disk into `store` (which must be empty), then makes the store
   * and its queues write every change here. A message whose visibility deadline has passed is
   * visible again, its receive count kept; one still in flight keeps its receipt handle.
   */
  public attach(store: FauxqsSqsStore): void {
    const now = Date.now();
    for (const row of this.#statements.loadQueues.all() as unknown as QueueRow[]) {
      // Created before the store writes through, so loading writes nothing back.
      const queue = store.createQueue(
        row.name,
        row.url,
        row.arn,
        JSON.parse(row.attributes),
        JSON.parse(row.tags),
      );
      Object.assign(queue, {
        createdTimestamp: row.created_timestamp,
        lastModifiedTimestamp: row.last_modified_timestamp,
        sequenceCounter: row.sequence_counter,
      });
      for (const message of this.#statements.loadMessages.all(row.name) as unknown as MessageRow[]) {
        restoreMessage(queue, message, now);
      }
    }
    const persistence = this as unknown as NonNullable<FauxqsSqsStore['persistence']>;
    store.persistence = persistence;
    for (const queue of store.allQueues()) queue.persistence = persistence;
  }

  /** Commits the writes made since the last commit. Call it before a reply leaves. */
  public commit(): void {
    if (!this.#inTransaction) return;
    this.#inTransaction = false;
    this.#db.exec('COMMIT');
  }

  /** Commits what is pending and closes the file. Idempotent. */
  public close(): void {
    if (this.#closed) return;
    this.commit();
    this.#closed = true;
    this.#db.close();
  }

  public insertQueue(queue: FauxqsQueue): void {
    this.#write(
      'upsertQueue',
      queue.name,
      queue.url,
      queue.arn,
      JSON.stringify(queue.attributes),
      JSON.stringify(Object.fromEntries(queue.tags)),
      queue.createdTimestamp,
      queue.lastModifiedTimestamp,
      queue.sequenceCounter,
    );
  }

  public deleteQueue(name: string): void {
    // Messages first: the cascade needs foreign keys on, and a file opened elsewhere may have had them off.
    this.#write('deleteQueueMessages', name);
    this.#write('deleteQueue', name);
  }

  public updateQueueAttributes(name: string, attributes: Record<string, string>, lastModified: number): void {
    this.#write('updateQueueAttributes', JSON.stringify(attributes), lastModified, name);
  }

  public updateQueueSequenceCounter(name: string, counter: number): void {
    this.#write('updateQueueSequenceCounter', counter, name);
  }

  public insertMessage(queueName: string, message: FauxqsMessage): void {
    this.#write(
      'upsertMessage',
      message.messageId,
      queueName,
      message.body,
      message.md5OfBody,
      JSON.stringify(message.messageAttributes),
      message.md5OfMessageAttributes,
      message.sentTimestamp,
      message.approximateReceiveCount,
      message.approximateFirstReceiveTimestamp ?? null,
      message.delayUntil ?? null,
      message.messageGroupId ?? null,
      message.messageDeduplicationId ?? null,
      message.sequenceNumber ?? null,
    );
  }

  public deleteMessage(messageId: string): void {
    this.#write('deleteMessage', messageId);
  }

  public updateMessageInflight(
    messageId: string,
    receiptHandle: string,
    visibilityDeadline: number,
    receiveCount: number,
    firstReceiveTimestamp?: number,
  ): void {
    this.#write(
      'markInflight',
      receiptHandle,
      visibilityDeadline,
      receiveCount,
      firstReceiveTimestamp ?? null,
      messageId,
    );
  }

  public updateMessageReady(messageId: string): void {
    this.#write('markReady', messageId);
  }

  public deleteQueueMessages(queueName: string): void {
    this.#write('deleteQueueMessages', queueName);
  }

  #write(statement: keyof Statements, ...values: (string | number | null)[]): void {
    if (!this.#inTransaction) {
      this.#db.exec('BEGIN');
      this.#inTransaction = true;
      // Before any continuation of the request that wrote, so before its reply is sent. A commit
      // that fails here (disk full, I/O error) is thrown: better the emulator dies with what is on
      // disk consistent than answer for writes it could not keep.
      queueMicrotask(() => this.commit());
    }
    this.#statements[statement].run(...values);
  }
}

function restoreMessage(queue: FauxqsQueue, row: MessageRow, now: number): void {
  const message: FauxqsMessage = {
    messageId: row.message_id,
    body: row.body,
    md5OfBody: row.md5_of_body,
    messageAttributes: JSON.parse(row.message_attributes),
    md5OfMessageAttributes: row.md5_of_message_attributes,
    sentTimestamp: row.sent_timestamp,
    approximateReceiveCount: row.approximate_receive_count ?? 0,
    ...(row.approximate_first_receive_timestamp !== null && {
      approximateFirstReceiveTimestamp: row.approximate_first_receive_timestamp,
    }),
    ...(row.delay_until !== null && { delayUntil: row.delay_until }),
    ...(row.message_group_id !== null && { messageGroupId: row.message_group_id }),
    ...(row.message_deduplication_id !== null && { messageDeduplicationId: row.message_deduplication_id }),
    ...(row.sequence_number !== null && { sequenceNumber: row.sequence_number }),
  };
  if (row.receipt_handle !== null && row.visibility_deadline !== null && row.visibility_deadline > now) {
    queue.inflightMessages.set(row.receipt_handle, {
      message,
      receiptHandle: row.receipt_handle,
      visibilityDeadline: row.visibility_deadline,
    });
    // As fauxqs locks it: only a named group (its delete releases only those).
    const group = message.messageGroupId;
    if (group !== undefined && queue.isFifo()) {
      queue.fifoLockedGroups.set(group, (queue.fifoLockedGroups.get(group) ?? 0) + 1);
    }
    return;
  }
  const delayed = message.delayUntil !== undefined && message.delayUntil > now;
  if (queue.isFifo()) {
    const fifoGroup = message.messageGroupId ?? DEFAULT_FIFO_GROUP;
    const groups = delayed ? queue.fifoDelayed : queue.fifoMessages;
    groups.set(fifoGroup, [...(groups.get(fifoGroup) ?? []), message]);
  } else {
    (delayed ? queue.delayedMessages : queue.messages).push(message);
  }
}
