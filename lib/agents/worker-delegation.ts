import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AGENT_EVENT_SOURCE } from '#contracts/agent-events.js';
import { API_ROUTES } from '#contracts/api-routes.js';
import { type EventRuleDefinition, WORKER_EVENTS_RULE } from '#contracts/event-rules.js';
import { workerRoleName } from '#contracts/identity.js';
import { deadLetterQueueName } from '#contracts/lanes.js';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import {
  DEFAULT_HEARTBEAT_STALE_MULTIPLE,
  WORKER_DETAIL_TYPES,
  workerSiteSchema,
  workerTaskQueueName,
} from '#contracts/worker-contract.js';
import {
  DEFAULT_RESULT_DEADLINE_SECONDS,
  DEFAULT_STUCK_TASK_MINUTES,
  MAX_RESULT_DEADLINE_SECONDS,
  WORKER_RUNTIME_ENV,
} from '#core/workers/settings.js';
import { MAX_STUCK_TASK_MINUTES, WORKER_SWEEP_INTERVAL_MINUTES } from '#core/workers/sweep.js';
import type { TelemetryBus } from '../bus/telemetry-bus.js';
import {
  DEFAULT_LIFECYCLE_SETTINGS,
  DEFAULT_WORKER_CLOCK_SKEW_SECONDS,
  DEFAULT_WORKER_SETTINGS_CONFIG,
} from '../config/environment-config.js';
import {
  DEAD_LETTER_QUEUE_RETENTION,
  HANDLER_ENTRIES,
  MAX_VISIBILITY_TIMEOUT,
  namePrefixFor,
  QUEUE_DEFAULTS,
  RULE_TARGET_DEFAULTS,
  WORKER_DELEGATION_DEFAULTS,
} from '../defaults.js';
import { throwIfProblems } from '../errors.js';
import { nagResourceName } from '../nag.js';
import { RunlaneFunction } from '../runlane-function.js';
import type { LifecycleStorage } from '../storage/lifecycle-storage.js';
import { TABLE_ACCESS } from '../storage/table-access.js';
import { toCdkEventPattern } from './runner-event-ingest.js';

/** The status partitions the sweep moves an overdue task's entry between. */
/**
 * The routes a worker host calls: claim, results, heartbeats (never health, metrics or the flag),
 * each under `/api/workers/sites/{site}/`.
 */
const WORKER_HOST_ROUTES = [
  API_ROUTES.claimWorkerTask,
  API_ROUTES.postWorkerResult,
  API_ROUTES.postWorkerHeartbeat,
] as const;

/** The stage the command API serves (`CommandApi`): execute-api ARNs name it. */
const API_STAGE = '$default';

export interface WorkerDelegationProps {
  /** Runlane environment name: queue, rule, policy and function names, `RUNLANE_ENVIRONMENT`. */
  readonly environmentName: string;
  /** The table holding the registry, the tasks and their results (and the runs they reconcile into). */
  readonly lifecycle: LifecycleStorage;
  /** The bus the workers send heartbeats and results to (`transport: bus`); the rule is created on it. */
  readonly telemetry: TelemetryBus;
  /** The command API whose worker routes (`/api/workers/sites/<site>/…`) the host policies may invoke. */
  readonly api: { readonly httpApi: apigwv2.IHttpApi };
  /** Site slugs; each gets a task lane, a host policy and a host role. At least one. */
  readonly sites: readonly string[];
  /**
   * Who may assume the sites' worker roles: 12-digit account ids or IAM role/user ARNs.
   * @default this account (its IAM principals, as its own policies allow)
   */
  readonly hostRoleTrust?: readonly string[];
  /**
   * Seconds a worker's `ts` may be ahead of the ingest's receipt (`WORKER_CLOCK_SKEW_SECONDS`).
   * @default 300
   */
  readonly clockSkewSeconds?: number;
  /**
   * `WORKER_DELEGATION_ENABLED` given to the API and the delegating lane worker: the flag's value
   * until an operator sets it.
   * @default false
   */
  readonly delegationEnabled?: boolean;
  /**
   * Missed heartbeat intervals before a worker is offline (`WORKER_HEARTBEAT_STALE_MULTIPLE`).
   * @default 3
   */
  readonly heartbeatStaleMultiple?: number;
  /**
   * Minutes a task may stay `executing` before it is stuck (`WORKER_STUCK_TASK_MINUTES`).
   * @default 15
   */
  readonly stuckTaskMinutes?: number;
  /**
   * Seconds a delegated action's run waits for its worker's result (`WORKER_RESULT_DEADLINE_SECONDS`);
   * past it the sweep turns the run NeedsReview with `worker_result_missing`.
   * @default 3600
   */
  readonly resultDeadlineSeconds?: number;
  /**
   * Receives of a task message before SQS moves it to the site's task DLQ.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * The task lanes' default visibility timeout. The agent sets its own on each receive and
   * renews it while a task runs; this covers receivers that do not.
   * @default Duration.seconds(900)
   */
  readonly visibilityTimeout?: Duration;
  /**
   * How long a task lane keeps a message (its DLQ keeps dead letters 14 days from the original enqueue).
   * @default Duration.days(7)
   */
  readonly taskRetention?: Duration;
  /**
   * Days registry entries, tasks and results written by the ingest are kept (`RETENTION_DAYS`, TTL).
   * @default 30
   */
  readonly retentionDays?: number;
  /**
   * Prefix of the queue, rule, function and policy names.
   * @default `runlane-<environmentName>`
   */
  readonly namePrefix?: string;
  /**
   * The ingest rule's pattern, name and description.
   * @default WORKER_EVENTS_RULE (`contracts/event-rules.ts`)
   */
  readonly rule?: EventRuleDefinition<'workerEventIngest'>;
  /**
   * Times EventBridge retries delivering an event to the ingest (0–185).
   * @default 8
   */
  readonly retryAttempts?: number;
  /**
   * How long EventBridge keeps trying to deliver an event to the ingest (1 minute – 24 hours).
   * @default Duration.hours(24)
   */
  readonly maxEventAge?: Duration;
  /**
   * Times Lambda retries a failed asynchronous ingest invocation (0–2), e.g. a result whose run is in progress.
   * @default 2
   */
  readonly asyncRetryAttempts?: number;
  /**
   * How long Lambda keeps an asynchronous ingest event for retries (1 minute – 6 hours).
   * @default Duration.hours(6)
   */
  readonly asyncMaxEventAge?: Duration;
  /**
   * Ingest function timeout.
   * @default Duration.seconds(10)
   */
  readonly ingestTimeout?: Duration;
  /**
   * Sweep function timeout (at most 2 minutes: a run must end well before the next one).
   * @default Duration.seconds(60)
   */
  readonly sweepTimeout?: Duration;
  /**
   * Memory of both functions, in MB.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Retention of the functions' log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the functions' log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Ingest handler entry file.
   * @default functions/handlers/worker-ingest.ts
   */
  readonly ingestEntry?: string;
  /**
   * Sweep handler entry file.
   * @default functions/handlers/worker-sweep.ts
   */
  readonly sweepEntry?: string;
}

/** One site's task lane and what its hosts may do. */
export interface WorkerSiteLane {
  readonly site: string;
  /** `<prefix>-worker-tasks-<site>`: the lane `runlane-agent worker` of that site long-polls. */
  readonly queue: sqs.Queue;
  /** `<prefix>-worker-tasks-<site>-dlq`: task messages received `maxReceiveCount` times without being deleted. */
  readonly deadLetterQueue: sqs.Queue;
  /** `<prefix>-worker-<site>`: what that site's worker hosts may do; attached to {@link hostRole}. */
  readonly hostPolicy: iam.ManagedPolicy;
  /**
   * `runlane-<env>-worker-<site>` (`workerRoleName`): the role that site's hosts assume, with the
   * worker's id as the role session name.
   */
  readonly hostRole: iam.Role;
}

/** The worker delegation settings the API and the lane workers read (`WORKER_RUNTIME_ENV`). */
export interface WorkerRuntimeSettings {
  readonly delegationEnabled: boolean;
  readonly heartbeatStaleMultiple: number;
  readonly stuckTaskMinutes: number;
  /** @default DEFAULT_RESULT_DEADLINE_SECONDS */
  readonly resultDeadlineSeconds?: number;
}

/**
 * The `WORKER_*` variables of `functions/core/workers/settings.ts` for the API and the lane
 * workers: the settings, and the task lanes as a JSON object of site → queue URL (a CDK token
 * string when the URLs are tokens). An environment without sites gets `{}`: delegation off.
 *
 * @example
 * workerRuntimeEnvironment(stack, { delegationEnabled: false, heartbeatStaleMultiple: 3, stuckTaskMinutes: 15 }, {});
 * // { WORKER_DELEGATION_ENABLED: 'false', WORKER_HEARTBEAT_STALE_MULTIPLE: '3', WORKER_STUCK_TASK_MINUTES: '15',
 * //   WORKER_RESULT_DEADLINE_SECONDS: '3600', WORKER_TASK_QUEUE_URLS: '{}' }
 */
export function workerRuntimeEnvironment(
  scope: Construct,
  settings: WorkerRuntimeSettings,
  queueUrls: Readonly<Record<string, string>>,
): Record<string, string> {
  return {
    [WORKER_RUNTIME_ENV.delegationEnabled]: String(settings.delegationEnabled),
    [WORKER_RUNTIME_ENV.heartbeatStaleMultiple]: String(settings.heartbeatStaleMultiple),
    [WORKER_RUNTIME_ENV.stuckTaskMinutes]: String(settings.stuckTaskMinutes),
    [WORKER_RUNTIME_ENV.resultDeadlineSeconds]: String(
      settings.resultDeadlineSeconds ?? DEFAULT_RESULT_DEADLINE_SECONDS,
    ),
    [WORKER_RUNTIME_ENV.taskQueueUrls]: Stack.of(scope).toJsonString(queueUrls),
  };
}

/**
 * Worker delegation's infrastructure (seed 004, issue 8): the site task lanes
 * `runlane-agent worker` long-polls, the ingest of what workers send on the bus, the sweep that
 * turns the registry into metrics, and the policies worker hosts need.
 *
 * Creates, per site (`sites`):
 * - the task lane `<prefix>-worker-tasks-<site>` (`workerTaskQueueName`): SQS-managed SSE,
 *   TLS-only, visibility `visibilityTimeout`, kept `taskRetention`, redriven after
 *   `maxReceiveCount` receives to `<prefix>-worker-tasks-<site>-dlq` (SSE, TLS-only, 14 days);
 * - the managed policy `<prefix>-worker-<site>` for that site's hosts: `sqs:ReceiveMessage`,
 *   `DeleteMessage`, `ChangeMessageVisibility`, `GetQueueAttributes` on that site's lane only;
 *   `events:PutEvents` on the telemetry bus with `events:source` = `runlane.agent` and
 *   `events:detail-type` = `WorkerHeartbeat` | `WorkerResult` only; `execute-api:Invoke` on that
 *   site's three worker routes of the `$default` stage only:
 *   `POST /api/workers/sites/<site>/tasks/*\/claim`, `POST /api/workers/sites/<site>/results`,
 *   `POST /api/workers/sites/<site>/heartbeats`;
 * - the IAM role `runlane-<env>-worker-<site>` (`workerRoleName`, whatever the name prefix: the
 *   API recognizes a worker by it) with that policy attached, assumable by `hostRoleTrust` (default
 *   this account). A host assumes it with **the worker's id as the role session name**
 *   (`aws sts assume-role --role-session-name <worker_id>`, or `role_session_name` in its AWS
 *   profile): API Gateway's IAM authorizer then proves the caller
 *   `arn:aws:sts::<account>:assumed-role/runlane-<env>-worker-<site>/<worker_id>`, and the API
 *   refuses a body naming another site or worker (`workerOfCallerArn`). The trust policy cannot
 *   check the session name against the worker id (IAM has no pattern for it); a principal allowed
 *   to assume the role can act as any worker of that site, never of another site;
 *
 * and for the environment:
 * - the rule `<prefix>-worker-events` on the telemetry bus (`WORKER_EVENTS_RULE`: source
 *   `runlane.agent`, detail types `WorkerHeartbeat`, `WorkerResult`) → the ingest function, with
 *   a retry policy and the events DLQ as the target's dead-letter queue;
 * - the ingest function (worker-ingest handler) with `LIFECYCLE_TABLE_NAME`,
 *   `WORKER_EVENT_DLQ_URL`, `RETENTION_DAYS`, `WORKER_CLOCK_SKEW_SECONDS`; on the table `TABLE_ACCESS.workerIngest` (a result is reconciled
 *   into the task, the action history and the run in one transaction) and send to the events
 *   DLQ; asynchronous retries (`asyncRetryAttempts` within `asyncMaxEventAge`, e.g. a result
 *   whose run is still in progress), then the events DLQ as on-failure destination;
 * - the events DLQ `<prefix>-worker-events-dlq`: refused events (with `reason` / `rationale`
 *   attributes), failed invocations, undeliverable events — one queue, one alarm;
 * - the sweep function (worker-sweep handler) with `LIFECYCLE_TABLE_NAME`,
 *   `WORKER_HEARTBEAT_STALE_MULTIPLE`, `WORKER_STUCK_TASK_MINUTES`, run by the rule
 *   `<prefix>-worker-sweep` (`rate(5 minutes)`, no retries, ticks older than 4 minutes
 *   dropped). Its data permissions: `dynamodb:Query` in the partitions of `WORKERS#<env>` and
 *   `WTASKS#<env>#executing` only (each shard `#0`…`#7` and the unsharded partition, named one
 *   by one) and of the `openRuns` index (overdue delegated runs), `dynamodb:BatchGetItem` of
 *   `WTASK#*` items only; to expire a delegated run past its result deadline (one transaction):
 *   get, put, update and condition-check of `WTASK#*` and `RUN#*` items, put and delete in the
 *   partitions of `WTASKS#<env>#queued|executing|failed` (shards and unsharded, named);
 * - `WORKER_RESULT_DEADLINE_SECONDS` (`resultDeadlineSeconds`) for the API and the delegating
 *   lane worker: the deadline each delegated run gets.
 *
 * Expose the lanes to the control plane with {@link bindApi} (depth for `/api/workers/health`)
 * and {@link bindDelegatingWorker} (the lane worker running `agent.approval.decided` sends tasks).
 * The alarms and dashboard rows are `RunlaneAlarms`' and `RunlaneDashboard`'s.
 *
 * @example
 * const workers = new WorkerDelegation(this, 'Workers', { environmentName: 'dev', lifecycle, telemetry, api, sites: ['lab'] });
 * workers.bindApi(api.handlerFunction);
 * workers.bindDelegatingWorker(approvalLane.workerFunction);
 */
export class WorkerDelegation extends Construct {
  public readonly siteLanes: readonly WorkerSiteLane[];
  public readonly rule: events.Rule;
  public readonly ingestFunction: RunlaneFunction;
  public readonly ingest: lambda.IFunction;
  /** `<prefix>-worker-events-dlq`: refused and failed worker events. */
  public readonly deadLetterQueue: sqs.Queue;
  public readonly sweepRule: events.Rule;
  public readonly sweepFunction: RunlaneFunction;
  public readonly sweep: lambda.IFunction;
  public readonly settings: WorkerRuntimeSettings;
  /** The `WORKER_*` variables {@link bindApi} and {@link bindDelegatingWorker} set. */
  public readonly runtimeEnvironment: Readonly<Record<string, string>>;

  public constructor(scope: Construct, id: string, props: WorkerDelegationProps) {
    super(scope, id);
    const s = resolveSettings(props);
    checkProps(props, s);
    this.settings = {
      delegationEnabled: s.delegationEnabled,
      heartbeatStaleMultiple: s.heartbeatStaleMultiple,
      stuckTaskMinutes: s.stuckTaskMinutes,
      resultDeadlineSeconds: s.resultDeadlineSeconds,
    };
    const env = props.environmentName;

    this.siteLanes = props.sites.map((site) => this.siteLane(props, s, site));
    this.runtimeEnvironment = workerRuntimeEnvironment(
      this,
      this.settings,
      Object.fromEntries(this.siteLanes.map((lane) => [lane.site, lane.queue.queueUrl])),
    );

    // The ingest: bus rule → function → DLQ, as the runner event ingest.
    this.deadLetterQueue = new sqs.Queue(this, 'EventDeadLetterQueue', {
      ...QUEUE_DEFAULTS,
      queueName: s.eventDeadLetterQueueName,
      retentionPeriod: DEAD_LETTER_QUEUE_RETENTION,
    });
    const dlqReason =
      'This queue is the end of the worker event ingest path: refused worker events (sent by the handler with their reason), the on-failure destination of the function and the dead-letter target of the rule, which cdk-nag cannot see as redrive sources; an operator reads it when its alarm fires, and a DLQ of a DLQ would only hide failures.';
    Validations.of(this.deadLetterQueue).acknowledge(
      { id: 'AwsSolutions-SQS3', reason: dlqReason },
      { id: 'Serverless-SQSRedrivePolicy', reason: dlqReason },
    );

    const logging = {
      ...(props.logRetention !== undefined ? { logRetention: props.logRetention } : {}),
      ...(props.logRemovalPolicy !== undefined ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
    };
    this.ingestFunction = new RunlaneFunction(this, 'IngestFunction', {
      entry: props.ingestEntry ?? HANDLER_ENTRIES.workerIngest,
      environmentName: env,
      serviceName: 'runlane-worker-ingest',
      description: `Runlane ${env}: worker heartbeats into the registry, worker results into the task store and their runs`,
      timeout: s.ingestTimeout,
      memorySize: s.memorySize,
      ...logging,
      environment: {
        [RUNTIME_ENV.lifecycleTableName]: props.lifecycle.tableName,
        [RUNTIME_ENV.workerEventDeadLetterQueueUrl]: this.deadLetterQueue.queueUrl,
        [RUNTIME_ENV.retentionDays]: String(s.retentionDays),
        [RUNTIME_ENV.workerClockSkewSeconds]: String(s.clockSkewSeconds),
      },
    });
    this.ingest = this.ingestFunction.function;
    this.ingest.configureAsyncInvoke({
      retryAttempts: s.asyncRetryAttempts,
      maxEventAge: s.asyncMaxEventAge,
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });
    Validations.of(this.ingestFunction).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'The worker ingest is invoked asynchronously by its EventBridge rule and has an on-failure destination (the worker events DLQ), the successor of the legacy function DLQ: it records the request and the error. Configuring both would put every failed event on the queue twice.',
    });
    props.lifecycle.grantTableAccess(this.ingest, TABLE_ACCESS.workerIngest(env));
    this.deadLetterQueue.grantSendMessages(this.ingest);

    this.rule = new events.Rule(this, 'EventRule', {
      eventBus: props.telemetry.bus,
      ruleName: s.ruleName,
      description: `Runlane ${env}: ${s.rule.description}`,
      eventPattern: toCdkEventPattern(s.rule.pattern),
    });
    this.rule.addTarget(
      new targets.LambdaFunction(this.ingest, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: s.retryAttempts,
        maxEventAge: s.maxEventAge,
      }),
    );

    // The sweep: a schedule → function that only reads.
    this.sweepFunction = new RunlaneFunction(this, 'SweepFunction', {
      entry: props.sweepEntry ?? HANDLER_ENTRIES.workerSweep,
      environmentName: env,
      serviceName: 'runlane-worker-sweep',
      description: `Runlane ${env}: every ${WORKER_SWEEP_INTERVAL_MINUTES} min, workers online/offline, tasks stuck executing, offline backlog; expires delegated runs past their result deadline`,
      timeout: s.sweepTimeout,
      memorySize: s.memorySize,
      ...logging,
      environment: {
        [RUNTIME_ENV.lifecycleTableName]: props.lifecycle.tableName,
        [WORKER_RUNTIME_ENV.heartbeatStaleMultiple]: String(s.heartbeatStaleMultiple),
        [WORKER_RUNTIME_ENV.stuckTaskMinutes]: String(s.stuckTaskMinutes),
      },
    });
    this.sweep = this.sweepFunction.function;
    // Its reads (registry, executing entries, their tasks, the openRuns index) and the expiry
    // transaction, partition by partition: TABLE_ACCESS.workerSweep (lib/storage/table-access.ts).
    props.lifecycle.grantTableAccess(this.sweep, TABLE_ACCESS.workerSweep(env));
    const sweepAge = WORKER_DELEGATION_DEFAULTS.sweepMaxEventAge;
    this.sweep.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: sweepAge });
    this.sweepRule = new events.Rule(this, 'SweepRule', {
      ruleName: s.sweepRuleName,
      description: `Runlane ${env}: sweep the worker registry and executing tasks into metrics`,
      schedule: events.Schedule.rate(Duration.minutes(WORKER_SWEEP_INTERVAL_MINUTES)),
    });
    this.sweepRule.addTarget(
      new targets.LambdaFunction(this.sweep, { retryAttempts: 0, maxEventAge: sweepAge }),
    );
    const nothingToKeep =
      'A run of the worker sweep carries no data: it reads the current registry and tasks, and the next scheduled run, 5 minutes later, does the same work. A dead-letter queue would only collect schedule ticks nobody can replay usefully; a run that does not happen leaves a period without the worker metrics, which their alarms treat as breaching.';
    Validations.of(this.sweepFunction).acknowledge(
      { id: 'Serverless-LambdaDLQ', reason: nothingToKeep },
      { id: 'Serverless-LambdaAsyncFailureDestination', reason: nothingToKeep },
    );
    Validations.of(this.sweepRule).acknowledge({ id: 'Serverless-EventBusDLQ', reason: nothingToKeep });
  }

  /**
   * Gives the API function the `WORKER_*` variables and `sqs:GetQueueAttributes` on the task
   * lanes (queue depth of `/api/workers/health` and `/metrics`). It already reads and writes the
   * table (registry, tasks, flag).
   */
  public bindApi(api: RunlaneFunction): void {
    this.addEnvironment(api);
    for (const lane of this.siteLanes) lane.queue.grant(api.function, 'sqs:GetQueueAttributes');
  }

  /**
   * Gives the lane worker that runs `agent.approval.decided` the `WORKER_*` variables and
   * `sqs:SendMessage` on the task lanes (a delegated action becomes a task message). It already
   * reads and writes the table.
   */
  public bindDelegatingWorker(worker: RunlaneFunction): void {
    this.addEnvironment(worker);
    for (const lane of this.siteLanes) lane.queue.grantSendMessages(worker.function);
  }

  private addEnvironment(target: RunlaneFunction): void {
    for (const [name, value] of Object.entries(this.runtimeEnvironment))
      target.function.addEnvironment(name, value);
  }

  private siteLane(props: WorkerDelegationProps, s: ResolvedSettings, site: string): WorkerSiteLane {
    const prefix = s.prefix;
    const queueName = s.taskQueueName(site);
    const deadLetterQueue = new sqs.Queue(this, `TaskDeadLetterQueue-${site}`, {
      ...QUEUE_DEFAULTS,
      queueName: deadLetterQueueName(queueName),
      retentionPeriod: DEAD_LETTER_QUEUE_RETENTION,
    });
    Validations.of(deadLetterQueue).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason: `This queue is the dead-letter queue of the worker task lane of site ${site}; task messages no worker could take stay here until an operator looks at them (alarm worker-task-dlq-messages), and a DLQ of a DLQ would only hide them.`,
    });
    const queue = new sqs.Queue(this, `TaskQueue-${site}`, {
      ...QUEUE_DEFAULTS,
      queueName,
      retentionPeriod: s.taskRetention,
      visibilityTimeout: s.visibilityTimeout,
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: s.maxReceiveCount },
    });

    // This site's worker routes of the one stage: the site is in the path, the task id a wildcard.
    const apiArn = (route: { readonly method: string; readonly path: string }) =>
      props.api.httpApi.arnForExecuteApi(
        route.method,
        route.path.replace('{site}', site).replace(/\{[^}]+\}/g, '*'),
        API_STAGE,
      );
    const hostPolicy = new iam.ManagedPolicy(this, `HostPolicy-${site}`, {
      managedPolicyName: `${prefix}-worker-${site}`,
      description: `Runlane ${props.environmentName}: runlane-agent worker hosts of site ${site} (their task lane, worker events on the bus, their site's claim/results/heartbeats on the API)`,
      statements: [
        new iam.PolicyStatement({
          sid: 'SiteTaskLane',
          actions: [
            'sqs:ReceiveMessage',
            'sqs:DeleteMessage',
            'sqs:ChangeMessageVisibility',
            'sqs:GetQueueAttributes',
          ],
          resources: [queue.queueArn],
        }),
        new iam.PolicyStatement({
          sid: 'WorkerEvents',
          actions: ['events:PutEvents'],
          resources: [props.telemetry.bus.eventBusArn],
          // Worker events only: a worker host cannot pass for a runner, a supervisor or a lane worker.
          conditions: {
            StringEquals: {
              'events:source': [AGENT_EVENT_SOURCE],
              'events:detail-type': [WORKER_DETAIL_TYPES.heartbeat, WORKER_DETAIL_TYPES.result],
            },
          },
        }),
        new iam.PolicyStatement({
          sid: 'WorkerApi',
          actions: ['execute-api:Invoke'],
          resources: WORKER_HOST_ROUTES.map(apiArn),
        }),
      ],
    });
    Validations.of(hostPolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceName(this, apiArn(API_ROUTES.claimWorkerTask))}]`,
      reason: `execute-api:Invoke names site ${site}'s three worker routes of the $default stage exactly; the one wildcard is the {taskId} of POST /api/workers/sites/${site}/tasks/{taskId}/claim, which no policy can list in advance. Every other statement of the policy names its one resource (the site's task lane, the telemetry bus).`,
    });

    // The site's host role. Its session name must be the worker's id: the API reads the worker
    // from the proven caller ARN (assumed-role/<role>/<session>) and refuses a body naming another.
    const trust = s.hostRoleTrust.map((entry) =>
      /^\d{12}$/.test(entry) ? new iam.AccountPrincipal(entry) : new iam.ArnPrincipal(entry),
    );
    const [onlyTrusted] = trust;
    const hostRole = new iam.Role(this, `HostRole-${site}`, {
      roleName: workerRoleName(props.environmentName, site),
      description: `Runlane ${props.environmentName}: worker hosts of site ${site}; assume with the worker id as the role session name`,
      assumedBy:
        trust.length === 0
          ? new iam.AccountRootPrincipal()
          : trust.length === 1 && onlyTrusted
            ? onlyTrusted
            : new iam.CompositePrincipal(...trust),
      managedPolicies: [hostPolicy],
      maxSessionDuration: Duration.hours(1),
    });
    return { site, queue, deadLetterQueue, hostPolicy, hostRole };
  }
}

interface ResolvedSettings {
  readonly prefix: string;
  /** `workerTaskQueueName(env, site)` under the default prefix: where the contract and the agents look. */
  readonly taskQueueName: (site: string) => string;
  readonly rule: EventRuleDefinition<'workerEventIngest'>;
  readonly ruleName: string;
  readonly sweepRuleName: string;
  readonly eventDeadLetterQueueName: string;
  readonly hostRoleTrust: readonly string[];
  readonly clockSkewSeconds: number;
  readonly delegationEnabled: boolean;
  readonly heartbeatStaleMultiple: number;
  readonly stuckTaskMinutes: number;
  readonly resultDeadlineSeconds: number;
  readonly maxReceiveCount: number;
  readonly visibilityTimeout: Duration;
  readonly taskRetention: Duration;
  readonly retentionDays: number;
  readonly retryAttempts: number;
  readonly maxEventAge: Duration;
  readonly asyncRetryAttempts: number;
  readonly asyncMaxEventAge: Duration;
  readonly ingestTimeout: Duration;
  readonly sweepTimeout: Duration;
  readonly memorySize: number;
}

function resolveSettings(props: WorkerDelegationProps): ResolvedSettings {
  const prefix = props.namePrefix ?? namePrefixFor(props.environmentName);
  const rule = props.rule ?? WORKER_EVENTS_RULE;
  const d = WORKER_DELEGATION_DEFAULTS;
  const config = DEFAULT_WORKER_SETTINGS_CONFIG;
  return {
    prefix,
    taskQueueName: (site) =>
      props.namePrefix === undefined
        ? workerTaskQueueName(props.environmentName, site)
        : `${prefix}-worker-tasks-${site}`,
    rule,
    ruleName: `${prefix}-${rule.name}`,
    sweepRuleName: `${prefix}-worker-sweep`,
    eventDeadLetterQueueName: deadLetterQueueName(`${prefix}-${rule.name}`),
    hostRoleTrust: props.hostRoleTrust ?? config.hostRoleTrust,
    clockSkewSeconds: props.clockSkewSeconds ?? DEFAULT_WORKER_CLOCK_SKEW_SECONDS,
    delegationEnabled: props.delegationEnabled ?? config.delegationEnabled,
    heartbeatStaleMultiple: props.heartbeatStaleMultiple ?? DEFAULT_HEARTBEAT_STALE_MULTIPLE,
    stuckTaskMinutes: props.stuckTaskMinutes ?? DEFAULT_STUCK_TASK_MINUTES,
    resultDeadlineSeconds: props.resultDeadlineSeconds ?? DEFAULT_RESULT_DEADLINE_SECONDS,
    maxReceiveCount: props.maxReceiveCount ?? config.maxReceiveCount,
    visibilityTimeout: props.visibilityTimeout ?? Duration.seconds(config.visibilityTimeoutSeconds),
    taskRetention: props.taskRetention ?? d.taskRetention,
    retentionDays: props.retentionDays ?? DEFAULT_LIFECYCLE_SETTINGS.retentionDays,
    retryAttempts: props.retryAttempts ?? RULE_TARGET_DEFAULTS.retryAttempts,
    maxEventAge: props.maxEventAge ?? RULE_TARGET_DEFAULTS.maxEventAge,
    asyncRetryAttempts: props.asyncRetryAttempts ?? d.asyncRetryAttempts,
    asyncMaxEventAge: props.asyncMaxEventAge ?? d.asyncMaxEventAge,
    ingestTimeout: props.ingestTimeout ?? d.ingestTimeout,
    sweepTimeout: props.sweepTimeout ?? d.sweepTimeout,
    memorySize: props.memorySize ?? d.memorySize,
  };
}

function checkProps(props: WorkerDelegationProps, s: ResolvedSettings): void {
  const problems: string[] = [];
  if (props.sites.length === 0) problems.push('sites: at least one site is required');
  const repeated = props.sites.filter((site, index) => props.sites.indexOf(site) !== index);
  if (repeated.length > 0) problems.push(`sites: repeated ${[...new Set(repeated)].join(', ')}`);
  for (const site of props.sites) {
    const checked = workerSiteSchema.safeParse(site);
    if (!checked.success) {
      problems.push(`sites: "${site}" ${checked.error.issues[0]?.message ?? 'is not a site slug'}`);
      continue;
    }
    const roleName = workerRoleName(props.environmentName, site);
    if (!/^[\w+=,.@-]{1,64}$/.test(roleName)) {
      problems.push(
        `sites: "${site}" makes the role name "${roleName}", not 1-64 characters of [A-Za-z0-9+=,.@_-]`,
      );
    }
    const dlq = deadLetterQueueName(s.taskQueueName(site));
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(dlq)) {
      problems.push(`sites: "${site}" makes the queue name "${dlq}", not 1-80 characters of [A-Za-z0-9_-]`);
    }
  }
  for (const [field, name] of [
    ['rule name', s.ruleName],
    ['sweep rule name', s.sweepRuleName],
  ] as const) {
    if (!/^[.\-_A-Za-z0-9]{1,64}$/.test(name)) {
      problems.push(`namePrefix (${field}): "${name}" must be 1-64 characters of [A-Za-z0-9._-]`);
    }
  }
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(s.eventDeadLetterQueueName)) {
    problems.push(
      `namePrefix (dead-letter queue name): "${s.eventDeadLetterQueueName}" must be 1-80 characters of [A-Za-z0-9_-]`,
    );
  }
  for (const entry of s.hostRoleTrust) {
    if (!/^(\d{12}|arn:aws[a-z-]*:iam::\d{12}:(root|(role|user)\/\S+))$/.test(entry)) {
      problems.push(`hostRoleTrust: "${entry}" is not a 12-digit account id or an IAM role or user ARN`);
    }
  }
  if (!isIntegerIn(s.clockSkewSeconds, 1, 86_400)) {
    problems.push(`clockSkewSeconds: must be an integer from 1 to 86400, got ${s.clockSkewSeconds}`);
  }
  if (s.rule.target !== 'workerEventIngest')
    problems.push(`rule: targets ${s.rule.target}, not workerEventIngest`);
  if (Object.keys(s.rule.pattern).length === 0) problems.push('rule: the pattern is empty');
  if (
    !(
      Number.isFinite(s.heartbeatStaleMultiple) &&
      s.heartbeatStaleMultiple >= 1 &&
      s.heartbeatStaleMultiple <= 100
    )
  ) {
    problems.push(`heartbeatStaleMultiple: must be from 1 to 100, got ${s.heartbeatStaleMultiple}`);
  }
  if (!isIntegerIn(s.stuckTaskMinutes, 1, MAX_STUCK_TASK_MINUTES)) {
    problems.push(
      `stuckTaskMinutes: must be an integer from 1 to ${MAX_STUCK_TASK_MINUTES}, got ${s.stuckTaskMinutes}`,
    );
  }
  if (!isIntegerIn(s.resultDeadlineSeconds, 1, MAX_RESULT_DEADLINE_SECONDS)) {
    problems.push(
      `resultDeadlineSeconds: must be an integer from 1 to ${MAX_RESULT_DEADLINE_SECONDS}, got ${s.resultDeadlineSeconds}`,
    );
  }
  if (!isIntegerIn(s.maxReceiveCount, 1, 1000)) {
    problems.push(`maxReceiveCount: must be an integer from 1 to 1000, got ${s.maxReceiveCount}`);
  }
  const visibility = s.visibilityTimeout.toSeconds({ integral: false });
  if (
    !(Number.isInteger(visibility) && visibility >= 30 && visibility <= MAX_VISIBILITY_TIMEOUT.toSeconds())
  ) {
    problems.push(
      `visibilityTimeout: must be whole seconds from 30 s to 12 hours, got ${s.visibilityTimeout.toHumanString()}`,
    );
  }
  const retention = s.taskRetention.toSeconds({ integral: false });
  // Shorter than the DLQ's 14 days: a dead letter's age counts from its first enqueue.
  if (!(retention >= 3600 && retention < DEAD_LETTER_QUEUE_RETENTION.toSeconds())) {
    problems.push(
      `taskRetention: must be from 1 hour to less than 14 days, got ${s.taskRetention.toHumanString()}`,
    );
  }
  if (!isIntegerIn(s.retentionDays, 1, 3650)) {
    problems.push(`retentionDays: must be an integer from 1 to 3650, got ${s.retentionDays}`);
  }
  if (!isIntegerIn(s.retryAttempts, 0, 185)) {
    problems.push(`retryAttempts: must be an integer from 0 to 185, got ${s.retryAttempts}`);
  }
  const eventAge = s.maxEventAge.toSeconds({ integral: false });
  if (!(eventAge >= 60 && eventAge <= 86_400)) {
    problems.push(`maxEventAge: must be 1 minute to 24 hours, got ${s.maxEventAge.toHumanString()}`);
  }
  if (!isIntegerIn(s.asyncRetryAttempts, 0, 2)) {
    problems.push(`asyncRetryAttempts: must be an integer from 0 to 2, got ${s.asyncRetryAttempts}`);
  }
  const asyncAge = s.asyncMaxEventAge.toSeconds({ integral: false });
  if (!(asyncAge >= 60 && asyncAge <= 21_600)) {
    problems.push(`asyncMaxEventAge: must be 1 minute to 6 hours, got ${s.asyncMaxEventAge.toHumanString()}`);
  }
  const sweepSeconds = s.sweepTimeout.toSeconds({ integral: false });
  if (!(sweepSeconds >= 1 && sweepSeconds <= 120)) {
    problems.push(`sweepTimeout: must be 1 to 120 seconds, got ${s.sweepTimeout.toHumanString()}`);
  }
  throwIfProblems('WorkerDelegation', problems);
}

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}
