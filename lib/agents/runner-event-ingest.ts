import { type Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AGENT_DETAIL_TYPES, AGENT_EVENT_SOURCE, SUPERVISOR_DETAIL_TYPES } from '#contracts/agent-events.js';
import type { EventPattern } from '#contracts/event-pattern.js';
import { type EventRuleDefinition, RUNNER_EVENTS_RULE } from '#contracts/event-rules.js';
import { deadLetterQueueName } from '#contracts/lanes.js';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import type { TelemetryBus } from '../bus/telemetry-bus.js';
import { DEFAULT_LIFECYCLE_SETTINGS } from '../config/environment-config.js';
import {
  DEAD_LETTER_QUEUE_RETENTION,
  HANDLER_ENTRIES,
  namePrefixFor,
  QUEUE_DEFAULTS,
  RULE_TARGET_DEFAULTS,
  RUNNER_EVENT_INGEST_DEFAULTS,
} from '../defaults.js';
import { throwIfProblems } from '../errors.js';
import { RunlaneFunction } from '../runlane-function.js';
import type { LifecycleStorage } from '../storage/lifecycle-storage.js';
import { TABLE_ACCESS } from '../storage/table-access.js';

export interface RunnerEventIngestProps {
  /** Runlane environment name: `RUNLANE_ENVIRONMENT`, and the only `detail.environment` the ingest accepts. */
  readonly environmentName: string;
  /** The table the events are stored in (single-table: `RUNNER#<env>#<day>#<shard>`, `SUPERVISOR#<env>#<shard>`, `SUPERVISOR#<env>#<day>#<shard>` partitions). */
  readonly lifecycle: LifecycleStorage;
  /** The bus the agents send to; the rule is created on it. */
  readonly telemetry: TelemetryBus;
  /**
   * Days an event is kept after it was received (`RETENTION_DAYS`, TTL).
   * @default 30
   */
  readonly retentionDays?: number;
  /**
   * Prefix of the rule and queue names.
   * @default `runlane-<environmentName>`
   */
  readonly namePrefix?: string;
  /**
   * The rule's pattern, name and description.
   * @default RUNNER_EVENTS_RULE (`contracts/event-rules.ts`)
   */
  readonly rule?: EventRuleDefinition;
  /**
   * Times EventBridge retries delivering an event to the function (0–185).
   * @default 8
   */
  readonly retryAttempts?: number;
  /**
   * How long EventBridge keeps trying to deliver an event (1 minute – 24 hours).
   * @default Duration.hours(24)
   */
  readonly maxEventAge?: Duration;
  /**
   * Times Lambda retries a failed asynchronous invocation (0–2).
   * @default 2
   */
  readonly asyncRetryAttempts?: number;
  /**
   * How long Lambda keeps an asynchronous event for retries (1 minute – 6 hours).
   * @default Duration.hours(6)
   */
  readonly asyncMaxEventAge?: Duration;
  /**
   * Function timeout.
   * @default Duration.seconds(10)
   */
  readonly functionTimeout?: Duration;
  /**
   * Function memory in MB.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the function's log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Handler entry file.
   * @default functions/handlers/runner-event-ingest.ts
   */
  readonly entry?: string;
}

/**
 * The control-plane end of the runner watchdog (issue 6) and of the supervisor
 * (issue 7): agent stall events, run summaries, supervisor health reports and
 * child events from the telemetry bus into the lifecycle table (health: the
 * latest per host; the others appended) and the `RunnerStalls` and
 * `Supervisor*` metrics.
 *
 * Creates:
 * - the rule `<prefix>-runner-events` on the telemetry bus: `source`
 *   `runlane.agent`, `detail-type` `RunnerStall`, `RunnerRunSummary`,
 *   `SupervisorHealth` or `SupervisorChild`,
 *   targeting the function, with a retry policy (`retryAttempts`,
 *   `maxEventAge`) and the DLQ as the target's dead-letter queue;
 * - the ingest function (`RunlaneFunction`, runner-event-ingest handler) with
 *   `LIFECYCLE_TABLE_NAME`, `RUNNER_EVENT_DLQ_URL`, `RETENTION_DAYS`; allowed to
 *   put items in this environment's `RUNNER#<env>#…` and `SUPERVISOR#<env>#…` partitions
 *   (`TABLE_ACCESS.runnerEventIngest`) and send to the DLQ, nothing else;
 * - its asynchronous invoke configuration: `asyncRetryAttempts` retries within
 *   `asyncMaxEventAge`, then the DLQ as on-failure destination;
 * - the DLQ `<prefix>-runner-events-dlq`: SQS-managed SSE, TLS-only, 14 days;
 * - the managed policy `<prefix>-agent-reporter` for the hosts: `events:PutEvents` on the
 *   telemetry bus with `events:source` = `runlane.agent` and `events:detail-type` one of
 *   {@link AGENT_REPORTER_DETAIL_TYPES} only (what that cannot prove about the sender: see there).
 *
 * Poison and failure handling — no event is retried forever, none is lost:
 * - **Invalid event** (not an agent event, detail failing its zod schema,
 *   another environment's event): the handler sends the EventBridge event to
 *   the DLQ with `reason` (`invalid_event`, `unknown_detail_type`,
 *   `invalid_detail`, `environment_mismatch`) and `rationale` (field paths)
 *   message attributes, and returns: retrying could never succeed.
 * - **Store failure** (DynamoDB unreachable, throttled): the handler throws;
 *   Lambda retries the invocation `asyncRetryAttempts` times, then the
 *   on-failure destination puts an invocation record (request payload = the
 *   event, response = the error) on the DLQ.
 * - **Delivery failure** (EventBridge could not invoke the function at all):
 *   EventBridge retries per the retry policy, then puts the event on the DLQ
 *   with its `ERROR_CODE` / `ERROR_MESSAGE` attributes.
 * One queue for the three, so one alarm (`runner-events-dlq-messages`) and one
 * place to look; each writer's messages are told apart by their attributes
 * and shape. Events are stored before they are counted and duplicates (same
 * id) are dropped, so a retried or resent event is counted once.
 *
 * @example
 * const ingest = new RunnerEventIngest(this, 'RunnerEvents', { environmentName: 'prod', lifecycle, telemetry });
 * ingest.deadLetterQueue; // watched by RunlaneAlarms
 */
export class RunnerEventIngest extends Construct {
  public readonly rule: events.Rule;
  public readonly ingestFunction: RunlaneFunction;
  public readonly function: lambda.IFunction;
  public readonly deadLetterQueue: sqs.Queue;
  /**
   * For the hosts running `runlane-agent run` / `supervise`: PutEvents on the telemetry bus, only
   * with source `runlane.agent` and a runner or supervisor detail type. Attach it to the hosts' role (instance profile, IAM Roles Anywhere…).
   */
  public readonly agentReporterPolicy: iam.ManagedPolicy;

  public constructor(scope: Construct, id: string, props: RunnerEventIngestProps) {
    super(scope, id);
    const settings = resolveSettings(props);
    checkProps(props, settings);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...QUEUE_DEFAULTS,
      queueName: settings.deadLetterQueueName,
      retentionPeriod: DEAD_LETTER_QUEUE_RETENTION,
    });
    const dlqReason =
      'This queue is the end of the runner event ingest path: refused events (sent by the handler with their reason), the on-failure destination of the function and the dead-letter target of the rule, which cdk-nag cannot see as redrive sources; an operator reads it when its alarm fires, and a DLQ of a DLQ would only hide failures.';
    Validations.of(this.deadLetterQueue).acknowledge(
      { id: 'AwsSolutions-SQS3', reason: dlqReason },
      { id: 'Serverless-SQSRedrivePolicy', reason: dlqReason },
    );

    this.ingestFunction = new RunlaneFunction(this, 'Function', {
      entry: props.entry ?? HANDLER_ENTRIES.runnerEventIngest,
      environmentName: props.environmentName,
      serviceName: 'runlane-runner-event-ingest',
      description: `Runlane ${props.environmentName}: agent stall events, run summaries and supervisor events into the lifecycle table and metrics`,
      timeout: settings.functionTimeout,
      memorySize: settings.memorySize,
      ...(props.logRetention !== undefined ? { logRetention: props.logRetention } : {}),
      ...(props.logRemovalPolicy !== undefined ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
      environment: {
        [RUNTIME_ENV.lifecycleTableName]: props.lifecycle.tableName,
        [RUNTIME_ENV.runnerEventDeadLetterQueueUrl]: this.deadLetterQueue.queueUrl,
        [RUNTIME_ENV.retentionDays]: String(settings.retentionDays),
      },
    });
    this.function = this.ingestFunction.function;
    this.function.configureAsyncInvoke({
      retryAttempts: settings.asyncRetryAttempts,
      maxEventAge: settings.asyncMaxEventAge,
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });
    Validations.of(this.ingestFunction).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'The function is invoked asynchronously by its EventBridge rule and has an on-failure destination (the ingest DLQ), the successor of the legacy function DLQ: it records the request and the error. Configuring both would put every failed event on the queue twice.',
    });

    props.lifecycle.grantTableAccess(this.function, TABLE_ACCESS.runnerEventIngest(props.environmentName));
    this.deadLetterQueue.grantSendMessages(this.function);

    this.rule = new events.Rule(this, 'Rule', {
      eventBus: props.telemetry.bus,
      ruleName: settings.ruleName,
      description: `Runlane ${props.environmentName}: ${settings.rule.description}`,
      eventPattern: toCdkEventPattern(settings.rule.pattern),
    });
    this.rule.addTarget(
      new targets.LambdaFunction(this.function, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: settings.retryAttempts,
        maxEventAge: settings.maxEventAge,
      }),
    );

    this.agentReporterPolicy = new iam.ManagedPolicy(this, 'AgentReporterPolicy', {
      managedPolicyName: settings.agentReporterPolicyName,
      description: `Runlane ${props.environmentName}: lets runlane-agent report stalls, run summaries and supervisor events to the telemetry bus`,
      statements: [
        new iam.PolicyStatement({
          sid: 'RunnerAndSupervisorEvents',
          actions: ['events:PutEvents'],
          resources: [props.telemetry.bus.eventBusArn],
          // Runner and supervisor events only: not a worker's heartbeat or result (WorkerHeartbeat,
          // WorkerResult: the worker ingest would take them as a worker host's), not a lane
          // worker's telemetry (its own source). What this cannot prove: see AGENT_REPORTER_DETAIL_TYPES.
          conditions: {
            StringEquals: {
              'events:source': [AGENT_EVENT_SOURCE],
              'events:detail-type': [...AGENT_REPORTER_DETAIL_TYPES],
            },
          },
        }),
      ],
    });
  }
}

/**
 * The detail types a runner or supervisor host may put on the bus (the reporter policy's
 * `events:detail-type` condition): the runner's stall events and run summaries, the
 * supervisor's health reports and child events — never a worker's `WorkerHeartbeat` or
 * `WorkerResult`.
 *
 * What EventBridge cannot prove: an event carries no identity of its caller. The ingest sees the
 * source, the detail type and the detail the host wrote (`host`, `environment`, ids) — not the
 * IAM principal that called PutEvents; EventBridge passes no caller identity to the rule's target,
 * so the ingest cannot compare the `host` an event names with the host that sent it. The policy
 * proves only that the sender holds the reporter policy (or broader rights on the bus) and that
 * the event is a runner or supervisor event; any host holding it can still report in the name of
 * another host (a false stall, a false health report, or none, hiding a silent host until its
 * reports stop). Where the caller must be proven, use the API's IAM-authorized routes, where the
 * principal is in the request (worker hosts: `/api/workers/sites/<site>/…`), or give each host
 * its own bus and policy.
 */
const AGENT_REPORTER_DETAIL_TYPES: readonly string[] = [
  AGENT_DETAIL_TYPES.stall,
  AGENT_DETAIL_TYPES.runSummary,
  SUPERVISOR_DETAIL_TYPES.health,
  SUPERVISOR_DETAIL_TYPES.child,
];

/**
 * The wire-format pattern of `EVENT_RULES` as the CDK takes it: `detail-type`
 * becomes `detailType`; other top-level fields keep their names.
 *
 * @example
 * toCdkEventPattern({ source: ['runlane.agent'], 'detail-type': ['RunnerStall'] });
 * // { source: ['runlane.agent'], detailType: ['RunnerStall'] }
 */
export function toCdkEventPattern(pattern: EventPattern): events.EventPattern {
  return Object.fromEntries(
    Object.entries(pattern).map(([field, value]) => [field === 'detail-type' ? 'detailType' : field, value]),
  ) as events.EventPattern;
}

interface ResolvedSettings {
  readonly rule: EventRuleDefinition;
  readonly ruleName: string;
  readonly deadLetterQueueName: string;
  readonly retentionDays: number;
  readonly retryAttempts: number;
  readonly maxEventAge: Duration;
  readonly asyncRetryAttempts: number;
  readonly asyncMaxEventAge: Duration;
  readonly functionTimeout: Duration;
  readonly memorySize: number;
  readonly agentReporterPolicyName: string;
}

function resolveSettings(props: RunnerEventIngestProps): ResolvedSettings {
  const prefix = props.namePrefix ?? namePrefixFor(props.environmentName);
  const rule = props.rule ?? RUNNER_EVENTS_RULE;
  return {
    rule,
    ruleName: `${prefix}-${rule.name}`,
    agentReporterPolicyName: `${prefix}-agent-reporter`,
    deadLetterQueueName: deadLetterQueueName(`${prefix}-${rule.name}`),
    retentionDays: props.retentionDays ?? DEFAULT_LIFECYCLE_SETTINGS.retentionDays,
    retryAttempts: props.retryAttempts ?? RULE_TARGET_DEFAULTS.retryAttempts,
    maxEventAge: props.maxEventAge ?? RULE_TARGET_DEFAULTS.maxEventAge,
    asyncRetryAttempts: props.asyncRetryAttempts ?? RUNNER_EVENT_INGEST_DEFAULTS.asyncRetryAttempts,
    asyncMaxEventAge: props.asyncMaxEventAge ?? RUNNER_EVENT_INGEST_DEFAULTS.asyncMaxEventAge,
    functionTimeout: props.functionTimeout ?? RUNNER_EVENT_INGEST_DEFAULTS.timeout,
    memorySize: props.memorySize ?? RUNNER_EVENT_INGEST_DEFAULTS.memorySize,
  };
}

function checkProps(props: RunnerEventIngestProps, settings: ResolvedSettings): void {
  const problems: string[] = [];
  if (!/^[.\-_A-Za-z0-9]{1,64}$/.test(settings.ruleName)) {
    problems.push(`namePrefix (rule name): "${settings.ruleName}" must be 1-64 characters of [A-Za-z0-9._-]`);
  }
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(settings.deadLetterQueueName)) {
    problems.push(
      `namePrefix (dead-letter queue name): "${settings.deadLetterQueueName}" must be 1-80 characters of [A-Za-z0-9_-]`,
    );
  }
  if (settings.rule.target !== 'runnerEventIngest') {
    problems.push(`rule: targets ${settings.rule.target}, not runnerEventIngest`);
  }
  if (Object.keys(settings.rule.pattern).length === 0) problems.push('rule: the pattern is empty');
  if (!isIntegerIn(settings.retryAttempts, 0, 185)) {
    problems.push(`retryAttempts: must be an integer from 0 to 185, got ${settings.retryAttempts}`);
  }
  const eventAge = settings.maxEventAge.toSeconds({ integral: false });
  if (!(eventAge >= 60 && eventAge <= 86_400)) {
    problems.push(`maxEventAge: must be 1 minute to 24 hours, got ${settings.maxEventAge.toHumanString()}`);
  }
  if (!isIntegerIn(settings.asyncRetryAttempts, 0, 2)) {
    problems.push(`asyncRetryAttempts: must be an integer from 0 to 2, got ${settings.asyncRetryAttempts}`);
  }
  const asyncAge = settings.asyncMaxEventAge.toSeconds({ integral: false });
  if (!(asyncAge >= 60 && asyncAge <= 21_600)) {
    problems.push(
      `asyncMaxEventAge: must be 1 minute to 6 hours, got ${settings.asyncMaxEventAge.toHumanString()}`,
    );
  }
  if (props.retentionDays !== undefined && !isIntegerIn(props.retentionDays, 1, 3650)) {
    problems.push(`retentionDays: must be an integer from 1 to 3650, got ${props.retentionDays}`);
  }
  throwIfProblems('RunnerEventIngest', problems);
}

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}
