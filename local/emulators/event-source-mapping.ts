/**
 * Lambda's SQS event-source mapping, run locally against any SQS endpoint
 * (fauxqs in tests): poll, batch, invoke the handler with a real `SQSEvent`
 * and `Context`, then delete exactly what Lambda would delete.
 *
 * Outcome rules (ReportBatchItemFailures, as documented by AWS):
 * - the handler resolves with nothing, `{}`, or an empty/null
 *   `batchItemFailures` → every message is deleted;
 * - it lists failures → every message *not* listed is deleted; the listed ones
 *   stay and reappear after their visibility timeout;
 * - an `itemIdentifier` that is empty, null, missing, or not a message id of
 *   the batch, a response that is not an object (or not JSON-serializable),
 *   a handler that throws or rejects, or one that runs past the function
 *   timeout → the whole batch failed: nothing is deleted.
 *
 * Unlike Lambda, a timed-out handler cannot be killed in-process: its promise
 * keeps running, and whatever it does later (including its result) is ignored
 * by the mapping. Synchronous code that never yields also blocks the timeout
 * timer itself. Lambda's 6 MB payload limit on a batch is not modelled.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { InvalidOptionsError } from '../errors.js';
import { createLambdaContext } from './lambda-context.js';
import { type LocalLogger, silentLogger } from './logger.js';
import { toSqsEvent } from './sqs-event.js';

/** What the mapping invokes: an SQS Lambda handler returning a promise. */
// biome-ignore lint/suspicious/noConfusingVoidType: the shape of aws-lambda's SQSHandler, so `async () => {}` fits.
export type SqsBatchHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface LocalEventSourceMappingOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Becomes each record's `eventSourceARN`; its region becomes `awsRegion`. */
  readonly queueArn: string;
  readonly handler: SqsBatchHandler;
  /** Records per invocation, 1–10000 (above 10 needs a batching window, as in AWS). */
  readonly batchSize: number;
  /** Gather records for up to this long before invoking, 0–300000. 0 invokes on the first receive. */
  readonly maximumBatchingWindowMs: number;
  /** Concurrent pollers, each with at most one invocation in flight. */
  readonly maxConcurrency: number;
  /** Function timeout; past it the batch counts as failed. 1–900000. */
  readonly functionTimeoutMs: number;
  readonly functionName: string;
  /** Long-poll wait of each ReceiveMessage, 0–20. @default 20 */
  readonly waitTimeSeconds?: number;
  /** `FunctionResponseTypes: ['ReportBatchItemFailures']`. When false, a resolved handler deletes the whole batch. @default true */
  readonly reportBatchItemFailures?: boolean;
  /** @default silentLogger */
  readonly logger?: LocalLogger;
}

export type BatchFailureReason = 'handler_error' | 'timeout' | 'invalid_item_identifier' | 'invalid_response';

/** What one poll did. Message ids are SQS message ids. */
export interface InvocationReport {
  readonly functionName: string;
  /** False when nothing was received (the handler was not called). */
  readonly invoked: boolean;
  /** The invocation's `context.awsRequestId`; undefined when not invoked. */
  readonly awsRequestId: string | undefined;
  readonly receivedMessageIds: readonly string[];
  /** Left on the queue to be received again: the listed failures, or the whole batch when it failed. */
  readonly failedMessageIds: readonly string[];
  readonly deletedMessageIds: readonly string[];
  /** Should have been deleted, but DeleteMessageBatch failed for them (they will come back). */
  readonly deleteFailedMessageIds: readonly string[];
  readonly batchFailed: boolean;
  readonly batchFailureReason: BatchFailureReason | undefined;
  /** Why the batch failed, in words (the handler's error message, the bad identifier, ...). */
  readonly error: string | undefined;
  /** Handler duration in milliseconds (until the timeout, if it timed out). */
  readonly durationMs: number;
}

export interface PollOnceOptions {
  /** Overrides the mapping's `waitTimeSeconds` for this poll. */
  readonly waitTimeSeconds?: number;
}

export interface DrainOptions {
  /** The queue must stay empty (visible, in flight and delayed all 0) this long. @default 200 */
  readonly idleMs?: number;
  /** Give up after this long. @default 30_000 */
  readonly timeoutMs?: number;
}

export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export interface DrainReport {
  /** True when the queue became and stayed empty; false on timeout. */
  readonly drained: boolean;
  /** Every invocation during the drain (its own polls and, if started, the pollers'). */
  readonly invocations: readonly InvocationReport[];
  readonly depth: QueueDepth;
  readonly elapsedMs: number;
}

const DELETE_BATCH_LIMIT = 10;
const RECEIVE_LIMIT = 10;
const POLL_ERROR_BACKOFF_MS = 1_000;

/**
 * @example
 * const mapping = new LocalEventSourceMapping({
 *   sqs, queueUrl, queueArn, handler,
 *   batchSize: 10, maximumBatchingWindowMs: 0, maxConcurrency: 2,
 *   functionTimeoutMs: 30_000, functionName: 'runtime-ingestion-completed-worker',
 * });
 * mapping.start();
 * // ...
 * await mapping.stop();
 *
 * // or, deterministically in a test:
 * const report = await mapping.pollOnce({ waitTimeSeconds: 1 });
 */
export class LocalEventSourceMapping {
  readonly #options: Required<Omit<LocalEventSourceMappingOptions, 'logger'>> & { logger: LocalLogger };
  readonly #listeners = new Set<(report: InvocationReport) => void>();
  #running = false;
  #abort = new AbortController();
  #pollers: Promise<void>[] = [];

  constructor(options: LocalEventSourceMappingOptions) {
    checkOptions(options);
    this.#options = {
      waitTimeSeconds: 20,
      reportBatchItemFailures: true,
      ...options,
      logger: options.logger ?? silentLogger,
    };
  }

  get running(): boolean {
    return this.#running;
  }

  /** Starts `maxConcurrency` pollers. Does nothing if already running. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#abort = new AbortController();
    const { functionName, maxConcurrency, queueUrl } = this.#options;
    this.#options.logger.info('event source mapping started', { functionName, queueUrl, maxConcurrency });
    this.#pollers = Array.from({ length: maxConcurrency }, (_, poller) => this.#pollLoop(poller));
  }

  /**
   * Stops polling: aborts pending receives (a message an aborted long poll had
   * already taken reappears after its visibility timeout), then waits for
   * in-flight invocations and their deletes, at most `functionTimeoutMs` + 10 s.
   */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#abort.abort();
    const bound = this.#options.functionTimeoutMs + 10_000;
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      Promise.allSettled(this.#pollers).then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), bound);
      }),
    ]);
    clearTimeout(timer);
    this.#pollers = [];
    this.#options.logger.info('event source mapping stopped', {
      functionName: this.#options.functionName,
      clean: settled,
    });
  }

  /**
   * Receives one batch (gathering for up to the batching window), invokes the
   * handler once if anything arrived, and applies the outcome.
   */
  pollOnce(options: PollOnceOptions = {}): Promise<InvocationReport> {
    return this.#poll(options.waitTimeSeconds ?? this.#options.waitTimeSeconds, undefined);
  }

  /**
   * Polls (unless started, then only watches) until the queue has had no
   * visible, in-flight or delayed message for `idleMs`, or `timeoutMs` passed.
   * Failed messages are retried as they reappear, so a drain ends with every
   * message deleted or moved to the DLQ.
   */
  async drain(options: DrainOptions = {}): Promise<DrainReport> {
    const idleMs = options.idleMs ?? 200;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const startedAt = Date.now();
    const invocations: InvocationReport[] = [];
    const collect = (report: InvocationReport): void => {
      invocations.push(report);
    };
    this.#listeners.add(collect);
    try {
      let emptySince: number | undefined;
      let depth = await this.depth();
      while (Date.now() - startedAt < timeoutMs) {
        const invoked = this.#running ? false : (await this.pollOnce({ waitTimeSeconds: 0 })).invoked;
        depth = await this.depth();
        if (depth.visible + depth.inFlight + depth.delayed === 0) {
          emptySince ??= Date.now();
          if (Date.now() - emptySince >= idleMs) {
            return { drained: true, invocations, depth, elapsedMs: Date.now() - startedAt };
          }
        } else {
          emptySince = undefined;
        }
        if (!invoked) await sleep(50);
      }
      return { drained: false, invocations, depth, elapsedMs: Date.now() - startedAt };
    } finally {
      this.#listeners.delete(collect);
    }
  }

  /** The queue's approximate message counts. */
  async depth(): Promise<QueueDepth> {
    const result = await this.#options.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.#options.queueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    const attributes = result.Attributes ?? {};
    return {
      visible: Number(attributes.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0),
    };
  }

  /** Called with the report of every invocation (pollers' and `pollOnce`'s). Returns an unsubscribe function. */
  onInvocation(listener: (report: InvocationReport) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #pollLoop(poller: number): Promise<void> {
    const { logger, functionName } = this.#options;
    const signal = this.#abort.signal;
    while (this.#running) {
      try {
        await this.#poll(this.#options.waitTimeSeconds, signal);
      } catch (error) {
        if (!this.#running) break;
        logger.error('poll failed', { functionName, poller, error });
        await sleep(POLL_ERROR_BACKOFF_MS, signal);
      }
    }
  }

  /** `signal` (the pollers') aborts receives on stop(); the batch gathered so far is still invoked. */
  async #poll(waitTimeSeconds: number, signal: AbortSignal | undefined): Promise<InvocationReport> {
    const messages = await this.#gather(waitTimeSeconds, signal);
    if (messages.length === 0) return this.#notInvoked();
    return this.#invoke(messages);
  }

  /** Receives until batchSize or the batching window, whichever first. */
  async #gather(waitTimeSeconds: number, signal: AbortSignal | undefined): Promise<Message[]> {
    const { batchSize, maximumBatchingWindowMs } = this.#options;
    const messages: Message[] = [];
    const first = await this.#receive(Math.min(RECEIVE_LIMIT, batchSize), waitTimeSeconds, signal);
    messages.push(...first);
    if (messages.length === 0 || maximumBatchingWindowMs === 0) return messages;
    // The window opens with the first record, as in Lambda.
    const windowEnds = Date.now() + maximumBatchingWindowMs;
    while (messages.length < batchSize && !signal?.aborted) {
      const remainingMs = windowEnds - Date.now();
      if (remainingMs <= 0) break;
      const wait = Math.min(Math.floor(remainingMs / 1000), waitTimeSeconds);
      const more = await this.#receive(Math.min(RECEIVE_LIMIT, batchSize - messages.length), wait, signal);
      for (const message of more) {
        // A window longer than the visibility timeout (a misconfiguration AWS
        // warns about) receives a message twice: keep the newest receipt handle.
        const earlier = messages.findIndex((candidate) => candidate.MessageId === message.MessageId);
        if (earlier === -1) messages.push(message);
        else messages[earlier] = message;
      }
      if (more.length === 0 && wait === 0) await sleep(Math.min(remainingMs, 50), signal);
    }
    return messages;
  }

  async #receive(
    maxNumberOfMessages: number,
    waitTimeSeconds: number,
    signal: AbortSignal | undefined,
  ): Promise<Message[]> {
    if (signal?.aborted) return [];
    try {
      const result = await this.#options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.#options.queueUrl,
          MaxNumberOfMessages: maxNumberOfMessages,
          WaitTimeSeconds: waitTimeSeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        signal ? { abortSignal: signal } : {},
      );
      return result.Messages ?? [];
    } catch (error) {
      if (signal?.aborted) return [];
      throw error;
    }
  }

  async #invoke(messages: readonly Message[]): Promise<InvocationReport> {
    const { functionName, functionTimeoutMs, handler, logger, queueArn } = this.#options;
    const event = toSqsEvent(messages, { queueArn });
    const context = createLambdaContext({
      functionName,
      timeoutMs: functionTimeoutMs,
      awsRequestId: randomUUID(),
    });
    const receivedMessageIds = event.Records.map((record) => record.messageId);
    logger.debug('invoking', {
      functionName,
      awsRequestId: context.awsRequestId,
      records: receivedMessageIds.length,
    });

    const startedAt = performance.now();
    const outcome = await runWithTimeout(() => handler(event, context), functionTimeoutMs);
    const durationMs = Math.round(performance.now() - startedAt);
    if (outcome.kind === 'timeout') {
      logger.warn('invocation timed out; the handler keeps running and its result will be ignored', {
        functionName,
        awsRequestId: context.awsRequestId,
        functionTimeoutMs,
      });
    }

    const verdict = judge(outcome, new Set(receivedMessageIds), this.#options.reportBatchItemFailures);
    const failed = verdict.batchFailed ? new Set(receivedMessageIds) : verdict.failedIds;
    const toDelete = messages.filter((message) => !failed.has(message.MessageId ?? ''));
    const deletion = await this.#delete(toDelete);

    const report: InvocationReport = {
      functionName,
      invoked: true,
      awsRequestId: context.awsRequestId,
      receivedMessageIds,
      failedMessageIds: receivedMessageIds.filter((id) => failed.has(id)),
      deletedMessageIds: deletion.deleted,
      deleteFailedMessageIds: deletion.failed,
      batchFailed: verdict.batchFailed,
      batchFailureReason: verdict.reason,
      error: verdict.error,
      durationMs,
    };
    const level = report.batchFailed ? 'warn' : 'info';
    logger[level]('invocation finished', {
      functionName,
      awsRequestId: report.awsRequestId,
      received: receivedMessageIds.length,
      deleted: report.deletedMessageIds.length,
      failed: report.failedMessageIds.length,
      batchFailed: report.batchFailed,
      batchFailureReason: report.batchFailureReason,
      error: report.error,
      durationMs,
    });
    this.#emit(report);
    return report;
  }

  async #delete(messages: readonly Message[]): Promise<{ deleted: string[]; failed: string[] }> {
    const deleted: string[] = [];
    const failed: string[] = [];
    for (let start = 0; start < messages.length; start += DELETE_BATCH_LIMIT) {
      const chunk = messages.slice(start, start + DELETE_BATCH_LIMIT);
      const idOf = (entryId: string | undefined): string => chunk[Number(entryId)]?.MessageId ?? '';
      try {
        const result = await this.#options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.#options.queueUrl,
            Entries: chunk.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle,
            })),
          }),
        );
        deleted.push(...(result.Successful ?? []).map((entry) => idOf(entry.Id)));
        const failures = result.Failed ?? [];
        failed.push(...failures.map((entry) => idOf(entry.Id)));
        if (failures.length > 0) {
          this.#options.logger.error('delete failed', {
            functionName: this.#options.functionName,
            failures: failures.map((entry) => ({
              messageId: idOf(entry.Id),
              code: entry.Code,
              message: entry.Message,
            })),
          });
        }
      } catch (error) {
        failed.push(...chunk.map((message) => message.MessageId ?? ''));
        this.#options.logger.error('delete failed', { functionName: this.#options.functionName, error });
      }
    }
    return { deleted, failed };
  }

  #notInvoked(): InvocationReport {
    return {
      functionName: this.#options.functionName,
      invoked: false,
      awsRequestId: undefined,
      receivedMessageIds: [],
      failedMessageIds: [],
      deletedMessageIds: [],
      deleteFailedMessageIds: [],
      batchFailed: false,
      batchFailureReason: undefined,
      error: undefined,
      durationMs: 0,
    };
  }

  #emit(report: InvocationReport): void {
    for (const listener of this.#listeners) {
      try {
        listener(report);
      } catch (error) {
        this.#options.logger.error('invocation listener threw', { functionName: report.functionName, error });
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Outcome rules

type Outcome =
  | { kind: 'resolved'; value: unknown }
  | { kind: 'rejected'; error: unknown }
  | { kind: 'timeout' };

interface Verdict {
  readonly batchFailed: boolean;
  readonly failedIds: ReadonlySet<string>;
  readonly reason: BatchFailureReason | undefined;
  readonly error: string | undefined;
}

async function runWithTimeout(invoke: () => Promise<unknown>, timeoutMs: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
  });
  // Promise.resolve().then(...) turns a synchronous throw into a rejection.
  const invocation = Promise.resolve()
    .then(invoke)
    .then(
      (value): Outcome => ({ kind: 'resolved', value }),
      (error: unknown): Outcome => ({ kind: 'rejected', error }),
    );
  try {
    return await Promise.race([invocation, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const batchFailure = (reason: BatchFailureReason, error: string): Verdict => ({
  batchFailed: true,
  failedIds: new Set(),
  reason,
  error,
});

const NO_FAILURES: Verdict = {
  batchFailed: false,
  failedIds: new Set(),
  reason: undefined,
  error: undefined,
};

/** Applies Lambda's ReportBatchItemFailures rules to a handler outcome. */
function judge(outcome: Outcome, batchIds: ReadonlySet<string>, reportBatchItemFailures: boolean): Verdict {
  if (outcome.kind === 'timeout') return batchFailure('timeout', 'the handler exceeded the function timeout');
  if (outcome.kind === 'rejected') {
    const { error } = outcome;
    return batchFailure(
      'handler_error',
      error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    );
  }
  if (!reportBatchItemFailures) return NO_FAILURES;

  // Lambda sees the JSON-serialized response.
  let response: unknown;
  try {
    const json = JSON.stringify(outcome.value);
    response = json === undefined ? null : JSON.parse(json);
  } catch (error) {
    return batchFailure('invalid_response', `the response is not JSON-serializable: ${String(error)}`);
  }
  if (response === null) return NO_FAILURES;
  if (typeof response !== 'object' || Array.isArray(response)) {
    return batchFailure('invalid_response', `the response is not an object: ${JSON.stringify(response)}`);
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return NO_FAILURES;
  if (!Array.isArray(failures)) {
    return batchFailure('invalid_response', `batchItemFailures is not a list: ${JSON.stringify(failures)}`);
  }
  const failedIds = new Set<string>();
  for (const failure of failures) {
    const identifier =
      typeof failure === 'object' && failure !== null
        ? (failure as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof identifier !== 'string' || identifier === '' || !batchIds.has(identifier)) {
      return batchFailure(
        'invalid_item_identifier',
        `batchItemFailures entry ${JSON.stringify(failure)} does not name a message of this batch`,
      );
    }
    failedIds.add(identifier);
  }
  return { batchFailed: false, failedIds, reason: undefined, error: undefined };
}

// ---------------------------------------------------------------------------
// Options

function checkOptions(options: LocalEventSourceMappingOptions): void {
  const problems: string[] = [];
  const integerIn = (name: string, value: number | undefined, min: number, max: number): void => {
    if (value === undefined) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${value}`);
    }
  };
  integerIn('batchSize', options.batchSize, 1, 10_000);
  integerIn('maximumBatchingWindowMs', options.maximumBatchingWindowMs, 0, 300_000);
  integerIn('maxConcurrency', options.maxConcurrency, 1, 1_000);
  integerIn('functionTimeoutMs', options.functionTimeoutMs, 1, 900_000);
  integerIn('waitTimeSeconds', options.waitTimeSeconds, 0, 20);
  if (options.batchSize > RECEIVE_LIMIT && options.maximumBatchingWindowMs < 1_000) {
    problems.push('batchSize above 10 needs maximumBatchingWindowMs of at least 1000, as in AWS');
  }
  if (!options.functionName) problems.push('functionName must not be empty');
  if (!/^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:.+$/.test(options.queueArn)) {
    problems.push(`queueArn must be an SQS queue ARN, got ${options.queueArn}`);
  }
  if (!options.queueUrl) problems.push('queueUrl must not be empty');
  if (typeof options.handler !== 'function') problems.push('handler must be a function');
  if (problems.length > 0) throw new InvalidOptionsError('LocalEventSourceMapping', problems);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
