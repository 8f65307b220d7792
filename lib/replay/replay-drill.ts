import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import type { TelemetryBus } from '../bus/telemetry-bus.js';
import { DEFAULT_LIFECYCLE_SETTINGS } from '../config/environment-config.js';
import { HANDLER_ENTRIES, LOG_GROUP_DEFAULTS, namePrefixFor } from '../defaults.js';
import { throwIfProblems } from '../errors.js';
import type { CommandLane } from '../lanes/command-lane.js';
import { RunlaneFunction } from '../runlane-function.js';
import type { LifecycleStorage } from '../storage/lifecycle-storage.js';
import { TABLE_ACCESS } from '../storage/table-access.js';

/** The dispatcher's steps (`contracts/replay-drill.ts`), in drill order. */
export const REPLAY_DRILL_STEPS = [
  'readDeadLetters',
  'replayMessage',
  'verifyRuns',
  'duplicateProbe',
  'verifyProbe',
  'recordEvidence',
] as const;
export type ReplayDrillStep = (typeof REPLAY_DRILL_STEPS)[number];

/** State names of the definition; the local runner and the tests address states by these. */
export const REPLAY_DRILL_STATES = {
  readDeadLetters: 'ReadDeadLetters',
  anyDeadLetters: 'AnyDeadLetters?',
  noDeadLetters: 'NoDeadLetters',
  replayEach: 'ReplayEach',
  replayMessage: 'ReplayMessage',
  replayFailedNull: 'ReplayFailed',
  replayFailed: 'ReplayFailed?',
  replayFailedWithId: 'ReplayFailedWithCommandId',
  replayFailedWithoutId: 'ReplayFailedWithoutCommandId',
  summarizeReplays: 'SummarizeReplays',
  checkReplayed: 'CheckReplayed',
  anyReplayed: 'AnyReplayed?',
  prepareVerification: 'PrepareVerification',
  waitForRuns: 'WaitForRuns',
  countRunsWait: 'CountRunsWait',
  runsBudgetSpent: 'RunsBudgetSpent?',
  lastRunsPoll: 'LastRunsPoll',
  verifyRuns: 'VerifyRuns',
  runsDone: 'RunsDone?',
  nextRunsPoll: 'NextRunsPoll',
  duplicateProbe: 'DuplicateProbe',
  restartClock: 'RestartClock',
  probeSent: 'ProbeSent?',
  waitForProbe: 'WaitForProbe',
  countProbeWait: 'CountProbeWait',
  probeBudgetSpent: 'ProbeBudgetSpent?',
  lastProbePoll: 'LastProbePoll',
  verifyProbe: 'VerifyProbe',
  probeDone: 'ProbeDone?',
  collectEvidence: 'CollectEvidence',
  nothingReplayed: 'NothingReplayed',
  collectUnverified: 'CollectUnverified',
  recordEvidence: 'RecordEvidence',
  done: 'Done',
} as const;

/**
 * `deadline` (epoch ms) the steps get while the drill's wait budget lasts: the
 * largest time a JS Date holds, i.e. "no deadline yet". The last poll gets 0.
 */
export const NO_DEADLINE = 8_640_000_000_000_000;

/** Defaults of {@link ReplayDrillProps}. */
export const REPLAY_DRILL_DEFAULTS = {
  maxConcurrency: 5,
  initialVerifyWaitSeconds: 1,
  functionTimeout: Duration.seconds(60),
  memorySize: 256,
  timeout: Duration.hours(6),
} as const;

/** The environment whose replay drill logs no execution data by default. */
const PROD_ENVIRONMENT = 'prod';

export interface ReplayDrillProps {
  /** Runlane environment name (`RUNLANE_ENVIRONMENT`). */
  readonly environmentName: string;
  /** Lanes whose DLQs may be drilled; the dispatcher may send to their queues and read their DLQs. */
  readonly lanes: readonly CommandLane[];
  readonly lifecycle: LifecycleStorage;
  readonly telemetry: TelemetryBus;
  /**
   * How many DLQ messages are replayed at once (Map `MaxConcurrency`, 1–40).
   * @default 5
   */
  readonly maxConcurrency?: number;
  /**
   * First wait before the replayed runs are verified, seconds; later waits are
   * what `verifyRuns` returns as `nextWaitSeconds` (1–3600).
   * @default 1
   */
  readonly initialVerifyWaitSeconds?: number;
  /**
   * Dispatcher function timeout.
   * @default Duration.seconds(60)
   */
  readonly functionTimeout?: Duration;
  /**
   * Dispatcher memory, MB.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Execution timeout (safety net; verification has its own deadline).
   * @default Duration.hours(6)
   */
  readonly timeout?: Duration;
  /**
   * Days a lifecycle item is kept (`RETENTION_DAYS`, for the runs the replays create).
   * @default the lifecycle default
   */
  readonly retentionDays?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Log each state's input and output with the state machine's events (`includeExecutionData`).
   * They carry the dead letters' message bodies (household messages, approvals, action
   * parameters), so prod logs events only.
   * @default false in the `prod` environment, true elsewhere
   */
  readonly logExecutionData?: boolean;
  /**
   * Physical-name prefix.
   * @default `runlane-<environmentName>`
   */
  readonly namePrefix?: string;
  /**
   * Dispatcher entry file.
   * @default functions/handlers/replay-drill.ts
   */
  readonly entry?: string;
}

/**
 * The replay drill (issue 4): a Step Functions **Standard** state machine whose
 * Task states all invoke one dispatcher Lambda (`functions/handlers/replay-drill.ts`)
 * with the payload `{ step, input }` (`LambdaInvoke`, `payloadResponseOnly`).
 *
 * ```
 * ReadDeadLetters → AnyDeadLetters? no → NoDeadLetters → RecordEvidence
 *   yes → ReplayEach (Map over items, MaxConcurrency) → SummarizeReplays → CheckReplayed → AnyReplayed?
 *   item: ReplayMessage ─Catch States.ALL→ ReplayFailed → ReplayFailed? → a `failed` result
 * AnyReplayed? no → NothingReplayed → CollectUnverified → RecordEvidence
 *   yes → PrepareVerification → WaitForRuns → CountRunsWait → RunsBudgetSpent? (yes → LastRunsPoll) → VerifyRuns
 *   VerifyRuns → RunsDone? no → NextRunsPoll → WaitForRuns
 *   yes → DuplicateProbe → RestartClock → ProbeSent? (commandId null → VerifyProbe)
 *   → WaitForProbe → CountProbeWait → ProbeBudgetSpent? (yes → LastProbePoll) → VerifyProbe
 *   VerifyProbe → ProbeDone? no → WaitForProbe; yes → CollectEvidence → RecordEvidence → Done
 * ```
 *
 * Data flow (JSONPath; the state document after ReadDeadLetters is `ReadDeadLettersOutput`):
 * - `ReplayEach` runs ReplayMessage on `{ drillId, dryRun, item }` per item and
 *   puts the results at `$.replays`. A failing item is caught and becomes
 *   `{ messageId, oldCommandId, newCommandId: null, status: 'failed', detail, error }`,
 *   so one bad message never fails the drill. `SummarizeReplays` drops `items`.
 *   Whether anything was replayed is `States.ArrayContains` over the statuses, so
 *   the `[?(@.status == 'replayed')]` filter in PrepareVerification always matches
 *   (aws-local-stepfunctions fails on a filter matching nothing; AWS yields []).
 * - **Deadlines.** JSONPath ASL has no epoch-ms clock, so the state machine cannot
 *   compute `now + verifyTimeoutSeconds`. It counts time as the sum of its waits
 *   (`$.clock`, `States.MathAdd`) instead: while that is below `verifyTimeoutSeconds`
 *   the steps get `deadline: NO_DEADLINE` (the largest JS Date); the first poll after
 *   the waits reach it gets `deadline: 0`, so `verifyRuns` reports every run still
 *   pending as `timed_out` (and `verifyProbe` fails an unseen duplicate). Lambda time
 *   is not counted, so a drill can run slightly longer than the budget; waits
 *   shortened locally (`waitTimeOverrides`) still reach the timeout after the same
 *   number of polls. The probe gets a fresh budget of the same length (`RestartClock`).
 * - Polls: first wait `initialVerifyWaitSeconds`, then what `verifyRuns` returned as
 *   `nextWaitSeconds` (`NextRunsPoll`); VerifyProbe's output is fed back until `done`.
 * - Nothing replayed (empty DLQ, dry run, everything skipped or failed): no
 *   verification, no probe; RecordEvidence gets `verification: null, probe: null`.
 * - RecordEvidence gets `{ drillId, lane, dryRun, replays, verification, probe }`;
 *   its `DrillEvidence` is the execution output.
 *
 * **Execution names.** Start executions with `name: drillId` (StartExecution); a
 * second start of the same drill then fails with `ExecutionAlreadyExists` instead
 * of replaying twice. The state machine cannot enforce this itself.
 *
 * Also creates the dispatcher (`RunlaneFunction`) with `RUNLANE_ENVIRONMENT`,
 * `LIFECYCLE_TABLE_NAME`, `TELEMETRY_BUS_NAME`, `REPLAY_LANE_QUEUES` and
 * `RETENTION_DAYS`; it may
 * send to the lanes' queues, receive/delete/change visibility/get attributes on
 * their DLQs, PutEvents on the bus and, on the lifecycle table, what the replay steps do
 * (`TABLE_ACCESS.replayDispatcher`: runs read and linked, replay bodies and evidence) — nothing
 * else. The state machine logs ALL events to its own log group — with execution data (each
 * state's input and output, message bodies included) everywhere but prod (`logExecutionData`) —
 * and has X-Ray tracing on.
 *
 * @example
 * const drill = new ReplayDrill(this, 'ReplayDrill', { environmentName: 'dev', lanes, lifecycle, telemetry });
 * new CfnOutput(this, 'ReplayDrillStateMachineArn', { value: drill.stateMachine.stateMachineArn });
 */
export class ReplayDrill extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly dispatcher: lambda.IFunction;
  public readonly dispatcherFunction: RunlaneFunction;
  public readonly logGroup: logs.LogGroup;
  public readonly maxConcurrency: number;

  public constructor(scope: Construct, id: string, props: ReplayDrillProps) {
    super(scope, id);
    const maxConcurrency = props.maxConcurrency ?? REPLAY_DRILL_DEFAULTS.maxConcurrency;
    const initialWait = props.initialVerifyWaitSeconds ?? REPLAY_DRILL_DEFAULTS.initialVerifyWaitSeconds;
    checkProps(props, { maxConcurrency, initialWait });
    this.maxConcurrency = maxConcurrency;
    const namePrefix = props.namePrefix ?? namePrefixFor(props.environmentName);

    const laneQueues = Object.fromEntries(
      props.lanes.map((lane) => [
        lane.lane.name,
        { queueUrl: lane.queue.queueUrl, dlqUrl: lane.deadLetterQueue.queueUrl },
      ]),
    );
    this.dispatcherFunction = new RunlaneFunction(this, 'Dispatcher', {
      entry: props.entry ?? HANDLER_ENTRIES.replayDrill,
      environmentName: props.environmentName,
      serviceName: 'runlane-replay-drill',
      description: `Runlane ${props.environmentName} replay drill steps`,
      timeout: props.functionTimeout ?? REPLAY_DRILL_DEFAULTS.functionTimeout,
      memorySize: props.memorySize ?? REPLAY_DRILL_DEFAULTS.memorySize,
      ...(props.logRetention !== undefined ? { logRetention: props.logRetention } : {}),
      ...(props.logRemovalPolicy !== undefined ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
      environment: {
        [RUNTIME_ENV.lifecycleTableName]: props.lifecycle.tableName,
        [RUNTIME_ENV.telemetryBusName]: props.telemetry.busName,
        [RUNTIME_ENV.replayLaneQueues]: Stack.of(this).toJsonString(laneQueues),
        [RUNTIME_ENV.retentionDays]: String(props.retentionDays ?? DEFAULT_LIFECYCLE_SETTINGS.retentionDays),
      },
    });
    this.dispatcher = this.dispatcherFunction.function;
    for (const lane of props.lanes) {
      lane.queue.grantSendMessages(this.dispatcher);
      lane.deadLetterQueue.grant(
        this.dispatcher,
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueAttributes',
      );
    }
    props.lifecycle.grantTableAccess(this.dispatcher, TABLE_ACCESS.replayDispatcher());
    props.telemetry.grantPutEvents(this.dispatcher);
    Validations.of(this.dispatcherFunction).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'The replay drill dispatcher is only invoked synchronously by its state machine (LambdaInvoke, RequestResponse), which sees every error; a function DLQ applies to asynchronous invocations only.',
    });

    this.logGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      // The /aws/vendedlogs/ prefix keeps the log resource policy small (Step Functions guidance).
      logGroupName: `/aws/vendedlogs/states/${namePrefix}-replay-drill`,
      retention: props.logRetention ?? LOG_GROUP_DEFAULTS.retention,
      removalPolicy: props.logRemovalPolicy ?? LOG_GROUP_DEFAULTS.removalPolicy,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: `${namePrefix}-replay-drill`,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(maxConcurrency, initialWait)),
      timeout: props.timeout ?? REPLAY_DRILL_DEFAULTS.timeout,
      tracingEnabled: true,
      logs: {
        destination: this.logGroup,
        level: sfn.LogLevel.ALL,
        includeExecutionData: props.logExecutionData ?? props.environmentName !== PROD_ENVIRONMENT,
      },
      comment: `Runlane ${props.environmentName} replay drill: re-enqueue dead letters with new command ids and prove the result`,
    });

    Validations.of(this.stateMachine.role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Logging to CloudWatch Logs needs logs:*LogDelivery, logs:PutResourcePolicy, logs:DescribeResourcePolicies and logs:DescribeLogGroups, and X-Ray tracing needs xray:PutTraceSegments, xray:PutTelemetryRecords and xray:GetSampling*; none of these supports resource-level permissions.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.dispatcherFunction.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason:
          'LambdaInvoke grants lambda:InvokeFunction on the dispatcher and its versions/aliases (<arn>:*); the wildcard covers only qualifiers of this one function.',
      },
    );
  }

  private invoke(id: string, step: ReplayDrillStep, input: unknown, resultPath?: string): tasks.LambdaInvoke {
    return new tasks.LambdaInvoke(this, id, {
      lambdaFunction: this.dispatcher,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({ step, input }),
      ...(resultPath !== undefined ? { resultPath } : {}),
    });
  }

  /** Pass state adding the wait at `waitPath` to `$.clock.waitedSeconds`. */
  private addWait(id: string, waitPath: string): sfn.Pass {
    return new sfn.Pass(this, id, {
      parameters: {
        waitedSeconds: sfn.JsonPath.mathAdd(
          sfn.JsonPath.numberAt('$.clock.waitedSeconds'),
          sfn.JsonPath.numberAt(waitPath),
        ),
        timeoutSeconds: sfn.JsonPath.numberAt('$.clock.timeoutSeconds'),
      },
      resultPath: '$.clock',
    });
  }

  private definition(maxConcurrency: number, initialWait: number): sfn.IChainable {
    const S = REPLAY_DRILL_STATES;
    const at = sfn.JsonPath.stringAt;

    const readDeadLetters = this.invoke(S.readDeadLetters, 'readDeadLetters', sfn.JsonPath.entirePayload);

    // --- per item: replay, and turn any error into a `failed` result -----------------
    const replayMessage = this.invoke(S.replayMessage, 'replayMessage', sfn.JsonPath.entirePayload);
    // CDK drops null from Parameters, so a Pass Result puts a null where the failed result can copy it.
    const nullValue = new sfn.Pass(this, S.replayFailedNull, {
      result: sfn.Result.fromObject({ value: null }),
      resultPath: '$.null',
    });
    const failed = (withCommandId: boolean) =>
      new sfn.Pass(this, withCommandId ? S.replayFailedWithId : S.replayFailedWithoutId, {
        parameters: {
          messageId: at('$.item.messageId'),
          oldCommandId: at(withCommandId ? '$.item.commandId' : '$.null.value'),
          newCommandId: at('$.null.value'),
          status: 'failed',
          detail: sfn.JsonPath.format('replayMessage failed: {}', at('$.error.Error')),
          error: sfn.JsonPath.objectAt('$.error'),
        },
      });
    replayMessage.addCatch(
      nullValue.next(
        new sfn.Choice(this, S.replayFailed)
          .when(sfn.Condition.isPresent('$.item.commandId'), failed(true))
          .otherwise(failed(false)),
      ),
      { errors: [sfn.Errors.ALL], resultPath: '$.error' },
    );
    const replayEach = new sfn.Map(this, S.replayEach, {
      itemsPath: '$.items',
      itemSelector: {
        drillId: at('$.drillId'),
        dryRun: at('$.dryRun'),
        item: at('$$.Map.Item.Value'),
      },
      maxConcurrency,
      resultPath: '$.replays',
    }).itemProcessor(replayMessage);

    // Whether anything was replayed, without a JSONPath filter that may match nothing
    // (AWS yields [] for that, aws-local-stepfunctions fails): statuses by wildcard
    // (the Map ran on at least one item), then States.ArrayContains. Drops `items`.
    const summarizeReplays = new sfn.Pass(this, S.summarizeReplays, {
      parameters: {
        drillId: at('$.drillId'),
        lane: at('$.lane'),
        dryRun: at('$.dryRun'),
        verifyTimeoutSeconds: at('$.verifyTimeoutSeconds'),
        replays: at('$.replays'),
        statuses: at('$.replays[*].status'),
      },
    });
    const checkReplayed = new sfn.Pass(this, S.checkReplayed, {
      parameters: { anyReplayed: sfn.JsonPath.arrayContains(sfn.JsonPath.listAt('$.statuses'), 'replayed') },
      resultPath: '$.check',
    });

    // --- verification loop ------------------------------------------------------------
    // The clock is the sum of the waits (ASL has no epoch-ms clock): within the budget the
    // handler gets deadline NO_DEADLINE; once the waits reach verifyTimeoutSeconds, the last
    // poll gets deadline 0, so verifyRuns reports what is still pending as timed_out.
    const prepareVerification = new sfn.Pass(this, S.prepareVerification, {
      parameters: {
        drillId: at('$.drillId'),
        lane: at('$.lane'),
        dryRun: at('$.dryRun'),
        replays: at('$.replays'),
        verifyInput: {
          newCommandIds: at("$.replays[?(@.status == 'replayed')].newCommandId"),
          deadline: NO_DEADLINE,
          waitSeconds: initialWait,
        },
        clock: { waitedSeconds: 0, timeoutSeconds: at('$.verifyTimeoutSeconds') },
      },
    });
    const waitForRuns = new sfn.Wait(this, S.waitForRuns, {
      time: sfn.WaitTime.secondsPath('$.verifyInput.waitSeconds'),
    });
    const countRunsWait = this.addWait(S.countRunsWait, '$.verifyInput.waitSeconds');
    const lastRunsPoll = new sfn.Pass(this, S.lastRunsPoll, {
      parameters: {
        newCommandIds: at('$.verifyInput.newCommandIds'),
        deadline: 0,
        waitSeconds: at('$.verifyInput.waitSeconds'),
      },
      resultPath: '$.verifyInput',
    });
    const verifyRuns = this.invoke(S.verifyRuns, 'verifyRuns', at('$.verifyInput'), '$.verification');
    const nextRunsPoll = new sfn.Pass(this, S.nextRunsPoll, {
      parameters: {
        newCommandIds: at('$.verifyInput.newCommandIds'),
        deadline: at('$.verification.deadline'),
        waitSeconds: at('$.verification.nextWaitSeconds'),
      },
      resultPath: '$.verifyInput',
    });

    // --- duplicate probe loop (its own budget of verifyTimeoutSeconds, counted the same way) ---
    const duplicateProbe = this.invoke(
      S.duplicateProbe,
      'duplicateProbe',
      {
        lane: at('$.lane'),
        dryRun: at('$.dryRun'),
        runs: at('$.verification.runs'),
        deadline: NO_DEADLINE,
      },
      '$.probe',
    );
    const restartClock = new sfn.Pass(this, S.restartClock, {
      parameters: { waitedSeconds: 0, timeoutSeconds: at('$.clock.timeoutSeconds') },
      resultPath: '$.clock',
    });
    const waitForProbe = new sfn.Wait(this, S.waitForProbe, {
      time: sfn.WaitTime.secondsPath('$.probe.waitSeconds'),
    });
    const countProbeWait = this.addWait(S.countProbeWait, '$.probe.waitSeconds');
    const lastProbePoll = new sfn.Pass(this, S.lastProbePoll, {
      parameters: {
        commandId: at('$.probe.commandId'),
        before: sfn.JsonPath.objectAt('$.probe.before'),
        deadline: 0,
        waitSeconds: at('$.probe.waitSeconds'),
      },
      resultPath: '$.probe',
    });
    const verifyProbe = this.invoke(S.verifyProbe, 'verifyProbe', at('$.probe'), '$.probe');

    // --- evidence ---------------------------------------------------------------------
    const collectEvidence = new sfn.Pass(this, S.collectEvidence, {
      parameters: {
        replays: at('$.replays'),
        verification: at('$.verification'),
        probe: at('$.probe'),
      },
      resultPath: '$.evidence',
    });
    // CDK drops null from Parameters: Pass Results carry the nulls.
    const noDeadLetters = new sfn.Pass(this, S.noDeadLetters, {
      result: sfn.Result.fromObject({ replays: [], verification: null, probe: null }),
      resultPath: '$.evidence',
    });
    const nothingReplayed = new sfn.Pass(this, S.nothingReplayed, {
      result: sfn.Result.fromObject({ verification: null, probe: null }),
      resultPath: '$.nulls',
    });
    const collectUnverified = new sfn.Pass(this, S.collectUnverified, {
      parameters: {
        replays: at('$.replays'),
        verification: at('$.nulls.verification'),
        probe: at('$.nulls.probe'),
      },
      resultPath: '$.evidence',
    });
    const recordEvidence = this.invoke(S.recordEvidence, 'recordEvidence', {
      drillId: at('$.drillId'),
      lane: at('$.lane'),
      dryRun: at('$.dryRun'),
      replays: at('$.evidence.replays'),
      verification: at('$.evidence.verification'),
      probe: at('$.evidence.probe'),
    });
    const done = new sfn.Succeed(this, S.done);
    recordEvidence.next(done);
    collectEvidence.next(recordEvidence);
    nothingReplayed.next(collectUnverified).next(recordEvidence);
    noDeadLetters.next(recordEvidence);

    const budgetSpent = sfn.Condition.numberGreaterThanEqualsJsonPath(
      '$.clock.waitedSeconds',
      '$.clock.timeoutSeconds',
    );
    verifyProbe.next(
      new sfn.Choice(this, S.probeDone)
        .when(sfn.Condition.booleanEquals('$.probe.done', true), collectEvidence)
        .otherwise(waitForProbe),
    );
    lastProbePoll.next(verifyProbe);
    waitForProbe
      .next(countProbeWait)
      .next(new sfn.Choice(this, S.probeBudgetSpent).when(budgetSpent, lastProbePoll).otherwise(verifyProbe));
    duplicateProbe
      .next(restartClock)
      .next(
        new sfn.Choice(this, S.probeSent)
          .when(sfn.Condition.isNull('$.probe.commandId'), verifyProbe)
          .otherwise(waitForProbe),
      );
    nextRunsPoll.next(waitForRuns);
    verifyRuns.next(
      new sfn.Choice(this, S.runsDone)
        .when(sfn.Condition.booleanEquals('$.verification.done', true), duplicateProbe)
        .otherwise(nextRunsPoll),
    );
    lastRunsPoll.next(verifyRuns);
    waitForRuns
      .next(countRunsWait)
      .next(new sfn.Choice(this, S.runsBudgetSpent).when(budgetSpent, lastRunsPoll).otherwise(verifyRuns));
    prepareVerification.next(waitForRuns);
    replayEach
      .next(summarizeReplays)
      .next(checkReplayed)
      .next(
        new sfn.Choice(this, S.anyReplayed)
          .when(sfn.Condition.booleanEquals('$.check.anyReplayed', true), prepareVerification)
          .otherwise(nothingReplayed),
      );

    return readDeadLetters.next(
      new sfn.Choice(this, S.anyDeadLetters)
        .when(sfn.Condition.isPresent('$.items[0]'), replayEach)
        .otherwise(noDeadLetters),
    );
  }
}

function checkProps(
  props: ReplayDrillProps,
  resolved: { readonly maxConcurrency: number; readonly initialWait: number },
): void {
  const problems: string[] = [];
  if (props.lanes.length === 0) problems.push('lanes: at least one lane is needed');
  if (
    !Number.isInteger(resolved.maxConcurrency) ||
    resolved.maxConcurrency < 1 ||
    resolved.maxConcurrency > 40
  ) {
    problems.push(`maxConcurrency: must be an integer between 1 and 40, got ${resolved.maxConcurrency}`);
  }
  if (!Number.isInteger(resolved.initialWait) || resolved.initialWait < 1 || resolved.initialWait > 3600) {
    problems.push(
      `initialVerifyWaitSeconds: must be an integer between 1 and 3600, got ${resolved.initialWait}`,
    );
  }
  throwIfProblems('ReplayDrill', problems);
}
