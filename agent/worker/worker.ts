import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  type WorkerResultEnvelope,
  type WorkerTaskMessage,
  workerTaskMessageSchema,
} from '#contracts/worker-contract.js';
import { type Clock, sleep, systemClock } from '../runner/clock.js';
import type { Spawner } from '../runner/watchdog.js';
import type { ClaimResult, WorkerApiClient } from './api-client.js';
import type { WorkerConfig } from './config.js';
import { buildResultEnvelopes } from './envelopes.js';
import { type ExecutingTask, type ExecutionOutcome, TaskExecutor } from './executor.js';
import { HeartbeatLoop } from './heartbeat.js';
import { type LogValue, taskLogFields, type WorkerLog } from './log.js';
import type { ResultOutbox } from './result-outbox.js';
import type { WorkerTransport } from './transport.js';

export interface WorkerDeps {
  readonly sqs: SQSClient;
  readonly api: Pick<WorkerApiClient, 'claim'>;
  readonly transport: WorkerTransport;
  readonly outbox: ResultOutbox;
  readonly log: WorkerLog;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly host: string;
  readonly version: string;
  readonly clock?: Clock;
  readonly spawner?: Spawner;
}

/** What a run did, for `--once` and the logs. */
export interface WorkerRunSummary {
  readonly received: number;
  readonly executed: number;
  readonly skipped: number;
  readonly deleted: number;
}

/** Pause after a failed receive, doubled per failure in a row. */
const RECEIVE_BACKOFF_MS = { initial: 1_000, max: 30_000 } as const;

/** Results kept in memory for a resend (tasks whose result could be neither delivered nor spooled). */
const MAX_KEPT_RESULTS = 100;

/**
 * `runlane-agent worker` (seed 004, host side): long-polls the site's task lane; for each valid
 * task of this site (and this worker, when it names one), claims it through the control plane
 * — exactly one worker wins — executes it within what the host allows, hands the result
 * envelopes over (acknowledged or spooled) and only then deletes the message. A message it
 * cannot use is left alone (the lane's DLQ takes it after maxReceiveCount); a claim the
 * control plane could not answer leaves the message for a later receive.
 *
 * A result that can be neither delivered nor spooled is kept in memory with its message (not
 * deleted): when the message comes back, the claim answers `reclaimed` (this worker holds it) and
 * the kept envelopes are sent again — the task is never run twice. A reclaimed message with no
 * kept result (the agent restarted, or another copy's result was handed over) is deleted without
 * running anything: the result is in the spool, or the control plane's deadline reports it missing.
 *
 * @example
 * const worker = new Worker(config, deps);
 * process.once('SIGTERM', () => worker.stop('SIGTERM'));
 * await worker.run({ once: false });
 */
export class Worker {
  private readonly clock: Clock;
  private readonly executor: TaskExecutor;
  private readonly heartbeats: HeartbeatLoop;
  private readonly stopController = new AbortController();
  private current: ExecutingTask | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private stopSignal: NodeJS.Signals | undefined;
  private readonly counts = { received: 0, executed: 0, skipped: 0, deleted: 0 };
  /** `<taskId>#<attempt>` → the envelopes of a result not handed over, oldest first. */
  private readonly kept = new Map<string, readonly WorkerResultEnvelope[]>();

  public constructor(
    private readonly config: WorkerConfig,
    private readonly deps: WorkerDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.executor = new TaskExecutor(config, {
      log: deps.log,
      env: deps.env,
      clock: this.clock,
      spawner: deps.spawner,
    });
    this.heartbeats = new HeartbeatLoop({
      config,
      transport: deps.transport,
      log: deps.log,
      host: deps.host,
      version: deps.version,
      backlog: () => deps.outbox.backlog(),
      executing: () => (this.current === undefined ? 0 : 1),
    });
  }

  /** Heartbeat counters (acknowledged / failed). */
  public get heartbeatCounts(): { readonly sent: number; readonly failed: number } {
    return { ...this.heartbeats.counts };
  }

  /**
   * Polls until {@link stop} (or, with `once`, for one receive round), then stops the heartbeat
   * and the spool replay. Resolves when the task in hand, if any, was handed over.
   */
  public async run(options: { readonly once: boolean }): Promise<WorkerRunSummary> {
    const { log, outbox } = this.deps;
    log.event('worker_started', {
      worker_id: this.config.workerId,
      site: this.config.site,
      environment: this.config.environment,
      queue_url: this.config.taskQueueUrl,
      transport: this.deps.transport.description,
      scripts: Object.keys(this.config.scripts),
      plugins: [...this.config.enabledPlugins.keys()],
      once: options.once || undefined,
    });
    // The registration's offline_backlog counts what earlier runs left in the spool.
    await outbox.open();
    outbox.start();
    this.heartbeats.start();
    let failures = 0;
    try {
      while (!this.stopping) {
        let messages: Message[];
        try {
          messages = await this.receive();
          failures = 0;
        } catch (error) {
          if (this.stopping) break;
          failures++;
          const pauseMs = Math.min(RECEIVE_BACKOFF_MS.max, RECEIVE_BACKOFF_MS.initial * 2 ** (failures - 1));
          log.event('receive_failed', {
            error: describe(error),
            retry_in_ms: options.once ? undefined : pauseMs,
          });
          if (options.once) break;
          await Promise.race([sleep(this.clock, pauseMs), this.stopped()]);
          continue;
        }
        for (const [index, message] of messages.entries()) {
          if (this.stopping) {
            await this.release(messages.slice(index));
            break;
          }
          this.counts.received++;
          await this.handle(message);
        }
        if (options.once) break;
      }
    } finally {
      clearTimeout(this.graceTimer);
      await this.heartbeats.stop();
      // A planned stop (the task in hand is handed over by now): tell the control plane, briefly.
      if (this.stopSignal !== undefined) await this.heartbeats.deregister();
      await outbox.close();
    }
    const summary = { ...this.counts };
    log.event('worker_stopped', { ...summary, signal: this.stopSignal });
    return summary;
  }

  /**
   * SIGTERM / SIGINT: stop polling now; the task in hand may finish within `shutdownGraceMs`,
   * then its tree is killed (`worker_shutdown`). A second signal kills it at once. Once it is
   * handed over, one `deregistration` is sent (at most `DEREGISTRATION_TIMEOUT_MS`), so the
   * control plane shows the worker `stopped` rather than `offline`.
   */
  public stop(signal: NodeJS.Signals): void {
    const first = this.stopSignal === undefined;
    this.stopSignal ??= signal;
    this.stopController.abort();
    if (first) this.armGrace();
    else this.current?.abort(signal);
  }

  /** Kills the task in hand once `shutdownGraceMs` has passed since the stop. */
  private armGrace(): void {
    const current = this.current;
    const signal = this.stopSignal;
    if (current === undefined || signal === undefined || this.graceTimer !== undefined) return;
    this.deps.log.event('shutdown_waiting_for_task', { grace_ms: this.config.shutdownGraceMs, signal });
    this.graceTimer = setTimeout(() => current.abort(signal), this.config.shutdownGraceMs);
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  private stopped(): Promise<void> {
    const signal = this.stopController.signal;
    return new Promise((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  private async receive(): Promise<Message[]> {
    const response = await this.deps.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.config.taskQueueUrl,
        MaxNumberOfMessages: this.config.receiveBatchSize,
        WaitTimeSeconds: this.config.pollWaitSeconds,
        VisibilityTimeout: this.config.visibilityTimeoutSeconds,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
      { abortSignal: this.stopController.signal },
    );
    return response.Messages ?? [];
  }

  private async handle(message: Message): Promise<void> {
    const { log } = this.deps;
    const messageFields = {
      message_id: message.MessageId,
      receive_count: Number(message.Attributes?.ApproximateReceiveCount ?? 0) || undefined,
    };
    const task = this.parse(message, messageFields);
    if (task === undefined) {
      this.counts.skipped++;
      return;
    }
    const fields = { ...taskLogFields(task), ...messageFields };
    if (task.site !== this.config.site || task.environment !== this.config.environment) {
      // Never executed here, never claimed: the lane's DLQ takes it after maxReceiveCount.
      log.event('task_wrong_site', {
        ...fields,
        task_site: task.site,
        task_environment: task.environment,
        site: this.config.site,
        environment: this.config.environment,
      });
      this.counts.skipped++;
      return;
    }
    if (task.workerId !== undefined && task.workerId !== this.config.workerId) {
      log.event('task_for_other_worker', { ...fields, task_worker_id: task.workerId });
      this.counts.skipped++;
      return;
    }

    const claim: ClaimResult = await this.deps.api.claim(task.taskId, {
      worker_id: this.config.workerId,
      site: this.config.site,
      attempt: task.attempt,
    });
    if (claim.outcome === 'unavailable') {
      log.event('claim_failed', { ...fields, reason: claim.reason });
      this.counts.skipped++;
      return;
    }
    const keptKey = `${task.taskId}#${task.attempt}`;
    if (claim.outcome !== 'claimed') {
      log.event(claim.outcome === 'already_claimed' ? 'task_already_claimed' : `claim_${claim.outcome}`, {
        ...fields,
        claimed_by: claim.outcome === 'already_claimed' ? claim.claimedBy : undefined,
        message: claim.outcome === 'already_claimed' ? undefined : claim.message,
      });
      this.counts.skipped++;
      // Closed at its deadline meanwhile: the result this worker kept is still worth delivering (late).
      if (
        claim.outcome === 'already_claimed' &&
        claim.claimedBy === this.config.workerId &&
        this.kept.has(keptKey)
      ) {
        await this.resendKept(keptKey, message, fields);
        return;
      }
      this.kept.delete(keptKey);
      await this.delete(message, fields);
      return;
    }
    if (claim.reclaimed === true) {
      if (this.kept.has(keptKey)) {
        await this.resendKept(keptKey, message, fields);
        return;
      }
      // Claimed by this worker earlier, with no result kept here: never run it a second time.
      log.event('task_reclaimed_without_result', { ...fields, worker_id: this.config.workerId });
      this.counts.skipped++;
      await this.delete(message, fields);
      return;
    }
    log.event('task_claimed', { ...fields, worker_id: this.config.workerId });
    const record = this.claimedRecord(task, claim.task, fields);
    const renewal = this.keepInvisible(message, fields);
    let handedOver: boolean;
    try {
      handedOver = await this.finishClaimed(record.task, fields, record.problem);
    } finally {
      await renewal.stop();
    }
    if (handedOver) await this.delete(message, fields);
  }

  /**
   * Executes a claimed task (or reports it expired) and hands its result over; true when every
   * envelope is acknowledged, spooled or kept aside, so the message may be deleted.
   */
  private async finishClaimed(
    task: WorkerTaskMessage,
    fields: Readonly<Record<string, LogValue>>,
    recordProblem?: string,
  ): Promise<boolean> {
    const { log } = this.deps;

    const deadline = Date.parse(task.queuedAt) + task.timeoutMs;
    let outcome: ExecutionOutcome;
    if (recordProblem !== undefined) {
      outcome = {
        result: {
          status: 'failed',
          errorCode: 'invalid_task_record',
          error: `not executed: ${recordProblem}`,
          durationMs: 0,
        },
      };
    } else if (Date.now() > deadline) {
      log.event('task_expired', { ...fields, queued_at: task.queuedAt, timeout_ms: task.timeoutMs });
      outcome = {
        result: {
          status: 'failed',
          errorCode: 'task_expired',
          error: `not started: queued at ${task.queuedAt}, its ${task.timeoutMs} ms ran out at ${new Date(deadline).toISOString()}`,
          durationMs: 0,
        },
      };
    } else {
      const running = this.executor.execute(task);
      this.current = running;
      // A stop that came while the claim was in flight still gets its grace.
      this.armGrace();
      try {
        outcome = await running.outcome;
      } finally {
        this.current = undefined;
        clearTimeout(this.graceTimer);
        this.graceTimer = undefined;
      }
      this.counts.executed++;
    }
    log.event('task_finished', {
      ...fields,
      status: outcome.result.status,
      error_code: outcome.result.errorCode,
      exit_code: outcome.result.exitCode ?? undefined,
      duration_ms: outcome.result.durationMs,
    });

    const envelopes = buildResultEnvelopes(
      { environment: this.config.environment, workerId: this.config.workerId, site: this.config.site },
      task,
      outcome,
    );
    const handOver = await this.deps.outbox.submit(envelopes, fields);
    if (!handOver.durable) {
      this.keep(`${task.taskId}#${task.attempt}`, envelopes, fields);
      log.event('message_kept', { ...fields, reason: 'a result could be neither delivered nor spooled' });
    }
    return handOver.durable;
  }

  /**
   * What to execute: the task record the control plane returned with the claim, never the queue
   * body (anyone who can send to the queue could write one). The record must be a valid task
   * message for the task, attempt, environment, site (and worker) that were claimed; otherwise
   * nothing runs and the result says `invalid_task_record` (its ids are the claimed ones).
   */
  private claimedRecord(
    queued: WorkerTaskMessage,
    raw: unknown,
    fields: Readonly<Record<string, LogValue>>,
  ): { readonly task: WorkerTaskMessage; readonly problem?: string } {
    const refuse = (problem: string) => {
      this.deps.log.event('task_record_invalid', { ...fields, problem });
      return { task: queued, problem };
    };
    if (raw === undefined) return refuse('the claim answer carried no task record (task.message)');
    const parsed = workerTaskMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return refuse(
        `the claimed task record is invalid at ${issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.')}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const record = parsed.data;
    const mismatch = (
      [
        ['taskId', record.taskId, queued.taskId],
        ['attempt', record.attempt, queued.attempt],
        ['environment', record.environment, this.config.environment],
        ['site', record.site, this.config.site],
      ] as const
    ).find(([, actual, expected]) => actual !== expected);
    if (mismatch !== undefined) {
      return refuse(
        `the claimed task record's ${mismatch[0]} is ${JSON.stringify(mismatch[1])}, not ${JSON.stringify(mismatch[2])}`,
      );
    }
    if (record.workerId !== undefined && record.workerId !== this.config.workerId) {
      return refuse(`the claimed task record is for worker ${record.workerId}`);
    }
    if (JSON.stringify(record) !== JSON.stringify(queued)) {
      // Only the record counts; the queue copy is noted, never used.
      this.deps.log.event('task_record_differs_from_queue', fields);
    }
    return { task: record };
  }

  /** Keeps a result for the resend when its message comes back (bounded: the oldest goes first). */
  private keep(
    key: string,
    envelopes: readonly WorkerResultEnvelope[],
    fields: Readonly<Record<string, LogValue>>,
  ): void {
    this.kept.delete(key);
    this.kept.set(key, envelopes);
    while (this.kept.size > MAX_KEPT_RESULTS) {
      const [oldest] = this.kept.keys();
      if (oldest === undefined) break;
      this.kept.delete(oldest);
      this.deps.log.event('kept_result_dropped', { ...fields, dropped: oldest, limit: MAX_KEPT_RESULTS });
    }
  }

  /**
   * The message of a task whose result this worker kept came back: the same envelopes (same ids,
   * so a copy that did arrive is a duplicate) are handed over again, and the message is deleted
   * once they are acknowledged or spooled — else it is kept for another round.
   */
  private async resendKept(
    key: string,
    message: Message,
    fields: Readonly<Record<string, LogValue>>,
  ): Promise<void> {
    const envelopes = this.kept.get(key) ?? [];
    this.deps.log.event('result_resent', { ...fields, envelopes: envelopes.length });
    const renewal = this.keepInvisible(message, fields);
    let durable: boolean;
    try {
      durable = (await this.deps.outbox.submit(envelopes, fields)).durable;
    } finally {
      await renewal.stop();
    }
    if (!durable) {
      this.deps.log.event('message_kept', {
        ...fields,
        reason: 'a result could be neither delivered nor spooled',
      });
      return;
    }
    this.kept.delete(key);
    await this.delete(message, fields);
  }

  private parse(message: Message, fields: Readonly<Record<string, LogValue>>): WorkerTaskMessage | undefined {
    let raw: unknown;
    try {
      raw = JSON.parse(message.Body ?? '');
    } catch {
      this.deps.log.event('task_invalid', { ...fields, field_path: '(body)', error: 'is not valid JSON' });
      return undefined;
    }
    const parsed = workerTaskMessageSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const known = raw as { taskId?: unknown; commandId?: unknown; correlationId?: unknown } | null;
    this.deps.log.event('task_invalid', {
      ...fields,
      task_id: typeof known?.taskId === 'string' ? known.taskId : undefined,
      command_id: typeof known?.commandId === 'string' ? known.commandId : undefined,
      correlation_id: typeof known?.correlationId === 'string' ? known.correlationId : undefined,
      field_path: issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.'),
      error: issue?.message ?? 'invalid',
      issues: parsed.error.issues.length,
    });
    return undefined;
  }

  private async delete(message: Message, fields: Readonly<Record<string, LogValue>>): Promise<void> {
    try {
      await this.deps.sqs.send(
        new DeleteMessageCommand({
          QueueUrl: this.config.taskQueueUrl,
          ReceiptHandle: message.ReceiptHandle,
        }),
      );
      this.counts.deleted++;
      this.deps.log.event('message_deleted', fields);
    } catch (error) {
      // The message comes back; its claim then answers already_claimed and the next receiver deletes it.
      this.deps.log.event('message_delete_failed', { ...fields, error: describe(error) });
    }
  }

  /**
   * Renews the message's invisibility every half `visibilityTimeoutSeconds` until the returned
   * function is called: a task longer than the timeout is not received again meanwhile.
   */
  private keepInvisible(
    message: Message,
    fields: Readonly<Record<string, LogValue>>,
  ): { stop(): Promise<void> } {
    const seconds = this.config.visibilityTimeoutSeconds;
    let renewing: Promise<void> = Promise.resolve();
    const timer = setInterval(
      () => {
        renewing = this.deps.sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: this.config.taskQueueUrl,
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: seconds,
            }),
          )
          .then(
            () => this.deps.log.event('message_visibility_extended', { ...fields, seconds }),
            (error: unknown) =>
              this.deps.log.event('message_visibility_extend_failed', { ...fields, error: describe(error) }),
          );
      },
      (seconds * 1_000) / 2,
    );
    timer.unref();
    return {
      stop: async () => {
        clearInterval(timer);
        await renewing; // never a renewal after the delete
      },
    };
  }

  /** Messages received but not started because of a shutdown: visible again at once for another worker. */
  private async release(messages: readonly Message[]): Promise<void> {
    for (const message of messages) {
      try {
        await this.deps.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: this.config.taskQueueUrl,
            ReceiptHandle: message.ReceiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      } catch (error) {
        this.deps.log.event('message_release_failed', {
          message_id: message.MessageId,
          error: describe(error),
        });
      }
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
