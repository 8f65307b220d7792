import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  deadLetterQueueName,
  LANE_GRACE_RECEIVES,
  type LaneDefinition,
  laneRedriveReceiveCount,
} from '#contracts/lanes.js';
import { NIGHTLY_SWEEP_LANE } from '#contracts/nightly-sweep.js';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import type { TelemetryBus } from '../bus/telemetry-bus.js';
import {
  type CommandSettings,
  DEFAULT_COMMAND_SETTINGS,
  DEFAULT_LIFECYCLE_SETTINGS,
} from '../config/environment-config.js';
import {
  DEAD_LETTER_QUEUE_RETENTION,
  HANDLER_ENTRIES,
  LANE_DEFAULTS,
  MAX_VISIBILITY_TIMEOUT,
  namePrefixFor,
  QUEUE_DEFAULTS,
  VISIBILITY_TIMEOUT_FACTOR,
} from '../defaults.js';
import { throwIfProblems } from '../errors.js';
import { RunlaneFunction } from '../runlane-function.js';
import type { LifecycleStorage } from '../storage/lifecycle-storage.js';
import { TABLE_ACCESS } from '../storage/table-access.js';

export interface CommandLaneProps {
  /** The lane, from `LANES` (`contracts/lanes.ts`). */
  readonly lane: LaneDefinition;
  /** Runlane environment name (`RUNLANE_ENVIRONMENT`). */
  readonly environmentName: string;
  /** Lifecycle store the worker reads and writes. */
  readonly lifecycle: LifecycleStorage;
  /** Bus the worker sends its batch summaries to. */
  readonly telemetry: TelemetryBus;
  /**
   * Prefix of the queue names: the queue is `<prefix>-<lane name>`, its DLQ
   * `deadLetterQueueName(<prefix>-<lane name>)`.
   * @default `runlane-<environmentName>`
   */
  readonly namePrefix?: string;
  /**
   * Receives before SQS moves a message to the DLQ (`LANE_MAX_RECEIVE_COUNT`).
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Records per invocation (1–10; up to 10000 with a batching window).
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * How long the event source gathers records before invoking.
   * @default Duration.seconds(1)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Most concurrent invocations the event source makes (2–1000).
   * @default 5
   */
  readonly maxConcurrency?: number;
  /**
   * Worker timeout; also the attempt lock fallback (`ATTEMPT_LOCK_FALLBACK_MS`).
   * @default Duration.seconds(30)
   */
  readonly functionTimeout?: Duration;
  /**
   * Worker memory in MB.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Queue visibility timeout. Must be at least 6 × `functionTimeout` +
   * `maxBatchingWindow` (AWS guidance for SQS event sources), and at most 12 hours.
   * @default 6 × functionTimeout + maxBatchingWindow
   */
  readonly visibilityTimeout?: Duration;
  /**
   * Days a run and its idempotency key are kept (`RETENTION_DAYS`).
   * @default 30
   */
  readonly retentionDays?: number;
  /**
   * Command thresholds passed to the worker (`INGESTION_ERROR_RATIO_THRESHOLD`,
   * `SWEEP_STUCK_RUNNING_MINUTES`, `SWEEP_STALE_REVIEW_HOURS`, `SWEEP_ABANDON_AFTER_MINUTES`).
   * `abandonAfterMinutes` must be above (maxReceiveCount + 2) × visibilityTimeout.
   * @default the configuration schema's defaults
   */
  readonly commands?: Partial<CommandSettings>;
  /**
   * Retention of the worker's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the worker's log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Worker entry file.
   * @default functions/handlers/lane-worker.ts
   */
  readonly entry?: string;
}

/**
 * One command lane (DESIGN §2): a queue, its dead-letter queue and the worker
 * that consumes it.
 *
 * Creates:
 * - the lane queue `<prefix>-<lane>`: SQS-managed SSE, TLS-only policy,
 *   redrive to the DLQ after `maxReceiveCount` receives, visibility timeout
 *   ≥ 6 × worker timeout + batching window;
 * - the DLQ `<prefix>-<lane>-dlq`: same encryption and TLS policy, 14-day retention;
 * - the worker (`RunlaneFunction`, lane-worker handler) with the lane's
 *   environment variables, an SQS event source (batch size, batching window,
 *   `ReportBatchItemFailures`, maximum concurrency), and grants to send to
 *   the DLQ, PutEvents on the telemetry bus, and on the lifecycle table exactly what its lane's
 *   commands do (`TABLE_ACCESS.laneWorker`, lib/storage/table-access.ts).
 *
 * @example
 * const lane = new CommandLane(this, 'IngestionCompleted', {
 *   lane: LANES[0], environmentName: 'dev', lifecycle: storage, telemetry,
 * });
 * lane.queue.grantSendMessages(api);
 */
export class CommandLane extends Construct {
  public readonly lane: LaneDefinition;
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly worker: lambda.IFunction;
  public readonly workerFunction: RunlaneFunction;
  public readonly maxReceiveCount: number;
  public readonly batchSize: number;
  public readonly visibilityTimeout: Duration;
  public readonly functionTimeout: Duration;

  public constructor(scope: Construct, id: string, props: CommandLaneProps) {
    super(scope, id);
    const settings = resolveSettings(props);
    checkProps(props, settings);

    this.lane = props.lane;
    this.maxReceiveCount = settings.maxReceiveCount;
    this.batchSize = settings.batchSize;
    this.visibilityTimeout = settings.visibilityTimeout;
    this.functionTimeout = settings.functionTimeout;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...QUEUE_DEFAULTS,
      queueName: settings.deadLetterQueueName,
      retentionPeriod: DEAD_LETTER_QUEUE_RETENTION,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason: `This queue is the dead-letter queue of ${props.lane.name}; dead letters stay here with their reason until the replay drill or an operator handles them, and a DLQ of a DLQ would only hide them.`,
    });

    this.queue = new sqs.Queue(this, 'Queue', {
      ...QUEUE_DEFAULTS,
      queueName: settings.queueName,
      // Messages outlive a week of worker outage; the DLQ keeps them a further 14 days.
      retentionPeriod: Duration.days(7),
      visibilityTimeout: settings.visibilityTimeout,
      // The worker's final attempt is receive maxReceiveCount; the grace receives after it close a
      // run whose final attempt died, so SQS's own (reasonless) redrive is only the backstop.
      deadLetterQueue: {
        queue: this.deadLetterQueue,
        maxReceiveCount: laneRedriveReceiveCount(settings.maxReceiveCount),
      },
    });

    const commands = { ...DEFAULT_COMMAND_SETTINGS, ...props.commands };
    checkAbandonAfter(props.lane.name, commands.abandonAfterMinutes, settings);
    this.workerFunction = new RunlaneFunction(this, 'Worker', {
      entry: props.entry ?? HANDLER_ENTRIES.laneWorker,
      environmentName: props.environmentName,
      // Same name the handler's logger uses; the lane is a log key and metric dimension of its own.
      serviceName: 'runlane-lane-worker',
      description: `Runlane ${props.environmentName} lane worker: ${props.lane.name}`,
      timeout: settings.functionTimeout,
      memorySize: settings.memorySize,
      ...(props.logRetention !== undefined ? { logRetention: props.logRetention } : {}),
      ...(props.logRemovalPolicy !== undefined ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
      environment: {
        [RUNTIME_ENV.laneName]: props.lane.name,
        [RUNTIME_ENV.laneDeadLetterQueueUrl]: this.deadLetterQueue.queueUrl,
        [RUNTIME_ENV.laneMaxReceiveCount]: String(settings.maxReceiveCount),
        [RUNTIME_ENV.attemptLockFallbackMs]: String(settings.functionTimeout.toMilliseconds()),
        [RUNTIME_ENV.lifecycleTableName]: props.lifecycle.tableName,
        [RUNTIME_ENV.telemetryBusName]: props.telemetry.busName,
        [RUNTIME_ENV.retentionDays]: String(props.retentionDays ?? DEFAULT_LIFECYCLE_SETTINGS.retentionDays),
        [RUNTIME_ENV.ingestionErrorRatioThreshold]: String(commands.ingestionErrorRatioThreshold),
        [RUNTIME_ENV.stuckRunningMinutes]: String(commands.stuckRunningMinutes),
        [RUNTIME_ENV.staleReviewHours]: String(commands.staleReviewHours),
        [RUNTIME_ENV.abandonAfterMinutes]: String(commands.abandonAfterMinutes),
        // The worker hides a message whose command another attempt still holds (the event source
        // mapping's grant covers ChangeMessageVisibility); the sweep enqueues its next link here.
        [RUNTIME_ENV.laneQueueUrl]: this.queue.queueUrl,
      },
    });
    this.worker = this.workerFunction.function;
    if (props.lane.name === NIGHTLY_SWEEP_LANE) this.queue.grantSendMessages(this.worker);

    this.worker.addEventSource(
      new sources.SqsEventSource(this.queue, {
        batchSize: settings.batchSize,
        maxBatchingWindow: settings.maxBatchingWindow,
        reportBatchItemFailures: true,
        maxConcurrency: settings.maxConcurrency,
      }),
    );
    Validations.of(this.workerFunction).acknowledge(
      {
        id: 'Serverless-LambdaDLQ',
        reason:
          'The worker is only invoked synchronously by its SQS event source mapping; a function DLQ applies to asynchronous invocations, and failed messages are redriven to the lane DLQ by the queue.',
      },
      {
        id: 'Serverless-LambdaEventSourceMappingDestination',
        reason:
          'SQS event source mappings do not support OnFailure destinations (only stream and Kafka sources do); failures reach the lane DLQ through the queue redrive policy after maxReceiveCount receives.',
      },
    );

    this.deadLetterQueue.grantSendMessages(this.worker);
    props.lifecycle.grantTableAccess(this.worker, TABLE_ACCESS.laneWorker(props.lane, props.environmentName));
    props.telemetry.grantPutEvents(this.worker);
  }
}

interface ResolvedLaneSettings {
  readonly queueName: string;
  readonly deadLetterQueueName: string;
  readonly maxReceiveCount: number;
  readonly batchSize: number;
  readonly maxBatchingWindow: Duration;
  readonly maxConcurrency: number;
  readonly functionTimeout: Duration;
  readonly memorySize: number;
  readonly minimumVisibilityTimeout: Duration;
  readonly visibilityTimeout: Duration;
}

function resolveSettings(props: CommandLaneProps): ResolvedLaneSettings {
  const functionTimeout = props.functionTimeout ?? Duration.seconds(LANE_DEFAULTS.functionTimeoutSeconds);
  const maxBatchingWindow =
    props.maxBatchingWindow ?? Duration.seconds(LANE_DEFAULTS.maxBatchingWindowSeconds);
  const minimumVisibilityTimeout = Duration.seconds(
    Math.ceil(VISIBILITY_TIMEOUT_FACTOR * seconds(functionTimeout) + seconds(maxBatchingWindow)),
  );
  const queueName = `${props.namePrefix ?? namePrefixFor(props.environmentName)}-${props.lane.name}`;
  return {
    queueName,
    deadLetterQueueName: deadLetterQueueName(queueName),
    maxReceiveCount: props.maxReceiveCount ?? LANE_DEFAULTS.maxReceiveCount,
    batchSize: props.batchSize ?? LANE_DEFAULTS.batchSize,
    maxBatchingWindow,
    maxConcurrency: props.maxConcurrency ?? LANE_DEFAULTS.maxConcurrency,
    functionTimeout,
    memorySize: props.memorySize ?? LANE_DEFAULTS.memorySizeMb,
    minimumVisibilityTimeout,
    visibilityTimeout: props.visibilityTimeout ?? minimumVisibilityTimeout,
  };
}

/**
 * The sweep closes a run Reserved `abandonAfterMinutes` after its lock lapsed: by then no receive
 * of its message may still come, so the lane's whole redrive window must be shorter.
 */
function checkAbandonAfter(lane: string, abandonAfterMinutes: number, settings: ResolvedLaneSettings): void {
  const windowSeconds =
    laneRedriveReceiveCount(settings.maxReceiveCount) * seconds(settings.visibilityTimeout);
  if (!(abandonAfterMinutes * 60 > windowSeconds)) {
    throwIfProblems('CommandLane', [
      `commands.abandonAfterMinutes: must be above lane ${lane}'s (maxReceiveCount + ${LANE_GRACE_RECEIVES}) × visibilityTimeout = ${windowSeconds} seconds, got ${abandonAfterMinutes} minutes`,
    ]);
  }
}

function checkProps(props: CommandLaneProps, settings: ResolvedLaneSettings): void {
  const problems: string[] = [];
  for (const [prop, name] of [
    ['namePrefix (queue name)', settings.queueName],
    ['namePrefix (dead-letter queue name)', settings.deadLetterQueueName],
  ] as const) {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
      problems.push(`${prop}: "${name}" must be 1-80 characters of [A-Za-z0-9_-]`);
    }
  }
  if (!isIntegerIn(settings.maxReceiveCount, 1, 1000)) {
    problems.push(`maxReceiveCount: must be an integer from 1 to 1000, got ${settings.maxReceiveCount}`);
  }
  for (const [prop, duration] of [
    ['maxBatchingWindow', settings.maxBatchingWindow],
    ['functionTimeout', settings.functionTimeout],
    ['visibilityTimeout', settings.visibilityTimeout],
  ] as const) {
    if (!Number.isInteger(seconds(duration))) {
      problems.push(`${prop}: must be a whole number of seconds, got ${duration.toHumanString()}`);
    }
  }
  const windowSeconds = seconds(settings.maxBatchingWindow);
  if (windowSeconds < 0 || windowSeconds > 300) {
    problems.push(`maxBatchingWindow: must be 0-300 seconds, got ${windowSeconds}`);
  }
  const maxBatch = windowSeconds > 0 ? 10_000 : 10;
  if (!isIntegerIn(settings.batchSize, 1, maxBatch)) {
    problems.push(
      `batchSize: must be an integer from 1 to ${maxBatch}${windowSeconds > 0 ? '' : ' without a batching window'}, got ${settings.batchSize}`,
    );
  }
  if (!isIntegerIn(settings.maxConcurrency, 2, 1000)) {
    problems.push(`maxConcurrency: must be an integer from 2 to 1000, got ${settings.maxConcurrency}`);
  }
  const timeoutSeconds = seconds(settings.functionTimeout);
  if (timeoutSeconds < 1 || timeoutSeconds > 900) {
    problems.push(`functionTimeout: must be 1-900 seconds, got ${timeoutSeconds}`);
  }
  if (!isIntegerIn(settings.memorySize, 128, 10_240)) {
    problems.push(`memorySize: must be an integer from 128 to 10240 MB, got ${settings.memorySize}`);
  }
  const visibilitySeconds = seconds(settings.visibilityTimeout);
  const minimumSeconds = seconds(settings.minimumVisibilityTimeout);
  if (visibilitySeconds < minimumSeconds) {
    problems.push(
      `visibilityTimeout: must be at least ${VISIBILITY_TIMEOUT_FACTOR} × functionTimeout + maxBatchingWindow = ${minimumSeconds} seconds, got ${visibilitySeconds}`,
    );
  }
  if (visibilitySeconds > MAX_VISIBILITY_TIMEOUT.toSeconds()) {
    problems.push(
      `visibilityTimeout: must be at most ${MAX_VISIBILITY_TIMEOUT.toSeconds()} seconds (12 hours), got ${visibilitySeconds}`,
    );
  }
  if (props.retentionDays !== undefined && !isIntegerIn(props.retentionDays, 14, 3650)) {
    problems.push(`retentionDays: must be an integer from 14 to 3650, got ${props.retentionDays}`);
  }
  if (props.lane.commandTypes.length === 0) {
    problems.push(`lane: ${props.lane.name} carries no command types`);
  }
  throwIfProblems('CommandLane', problems);
}

/** Seconds of a duration, fractional allowed (the check reports non-whole values itself). */
function seconds(duration: Duration): number {
  return duration.toSeconds({ integral: false });
}

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}
