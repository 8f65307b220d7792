import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { LANES, laneForCommandType } from '#contracts/lanes.js';
import { NIGHTLY_SWEEP_LANE } from '#contracts/nightly-sweep.js';
import { RunnerEventIngest } from './agents/runner-event-ingest.js';
import { SupervisorSilentHostsCheck } from './agents/supervisor-silent-hosts-check.js';
import { WorkerDelegation, workerRuntimeEnvironment } from './agents/worker-delegation.js';
import { CommandApi } from './api/command-api.js';
import { TelemetryBus } from './bus/telemetry-bus.js';
import {
  type EnvironmentConfig,
  type EnvironmentName,
  workerSiteOutputId,
} from './config/environment-config.js';
import { retentionDaysFrom } from './defaults.js';
import { InvalidPropsError } from './errors.js';
import { CommandLane } from './lanes/command-lane.js';
import { NightlySweepSchedule } from './lanes/nightly-sweep-schedule.js';
import { AlarmTopics } from './observability/alarm-topics.js';
import { RunlaneAlarms } from './observability/runlane-alarms.js';
import { RunlaneDashboard } from './observability/runlane-dashboard.js';
import { ReplayDrill } from './replay/replay-drill.js';
import { LifecycleStorage } from './storage/lifecycle-storage.js';

/** The command type whose lane worker delegates approved actions to workers (seed 004). */
const DELEGATING_COMMAND_TYPE = 'agent.approval.decided';

export interface RunlaneStackProps extends StackProps {
  /** Which environment this stack is. */
  readonly environmentName: EnvironmentName;
  /** That environment's validated configuration (`parseRunlaneConfig`). */
  readonly config: EnvironmentConfig;
}

/**
 * One Runlane environment. Only assembles constructs:
 * - `LifecycleStorage` (the lifecycle table);
 * - `TelemetryBus`;
 * - one `CommandLane` per entry of `LANES`;
 * - `CommandApi` over those lanes;
 * - `NightlySweepSchedule` on the sweep lane;
 * - `ReplayDrill` (Step Functions state machine + dispatcher) over every lane;
 * - `RunnerEventIngest`: the bus rule for agent stall events and run
 *   summaries, the ingest function and its DLQ;
 * - `SupervisorSilentHostsCheck`: every 5 minutes, the count of supervisor
 *   hosts whose latest health report is older than
 *   `alarms.supervisor.silentHosts.staleMinutes`;
 * - `WorkerDelegation` when `workers.sites` names a site (seed 004): a task lane, a host
 *   policy and a host role per site, the worker event ingest, the worker sweep; bound to the API (lane depth)
 *   and to the lane worker running `agent.approval.decided` (sends tasks). Without sites, the
 *   API and that lane worker only get the `WORKER_*` settings (delegation off, no lanes);
 * - `AlarmTopics` (critical, warning; subscriptions from `config.alarms`),
 *   `RunlaneAlarms` (thresholds from `config.alarms`) and `RunlaneDashboard`;
 * - outputs: API URL, each lane's queue and DLQ URL, table name, bus name,
 *   alarm topic ARNs, dashboard name, replay drill state machine ARN, runner
 *   event DLQ URL, and with worker sites each site's task lane URL
 *   (`WorkerTaskQueueUrl<Site>`), host policy ARN (`WorkerHostPolicyArn<Site>`) and host role ARN
 *   (`WorkerHostRoleArn<Site>`), and the worker event DLQ URL;
 * - household auth outputs: `JwtIssuer`, and with the stack's own Cognito user pool (no
 *   `auth.jwt.issuer`) `UserPoolId` and `UserPoolClientId`.
 *
 * @example
 * new RunlaneStack(app, 'Runlane-dev', { environmentName: 'dev', config: config.environments.dev,
 *   env: { region: 'us-east-1' } });
 */
export class RunlaneStack extends Stack {
  public readonly lifecycle: LifecycleStorage;
  public readonly telemetry: TelemetryBus;
  public readonly lanes: readonly CommandLane[];
  public readonly api: CommandApi;
  public readonly nightlySweep: NightlySweepSchedule;
  public readonly replayDrill: ReplayDrill;
  public readonly runnerEvents: RunnerEventIngest;
  public readonly supervisorSilentHosts: SupervisorSilentHostsCheck;
  /** Worker delegation; undefined in an environment without `workers.sites`. */
  public readonly workers: WorkerDelegation | undefined;
  public readonly alarmTopics: AlarmTopics;
  public readonly alarms: RunlaneAlarms;
  public readonly dashboard: RunlaneDashboard;

  public constructor(scope: Construct, id: string, props: RunlaneStackProps) {
    super(scope, id, {
      description: `Runlane ${props.environmentName}: queue-driven command orchestration`,
      ...props,
    });
    const { config, environmentName } = props;
    const logRetention = retentionDaysFrom(config.logRetentionDays);
    if (logRetention === undefined) {
      throw new InvalidPropsError('RunlaneStack', [
        `config.logRetentionDays: ${config.logRetentionDays} is not a CloudWatch Logs retention period`,
      ]);
    }
    const logRemovalPolicy = config.lifecycle.retainOnDelete ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.lifecycle = new LifecycleStorage(this, 'Lifecycle', {
      retainOnDelete: config.lifecycle.retainOnDelete,
      ...(config.lifecycle.deletionProtection !== undefined
        ? { deletionProtection: config.lifecycle.deletionProtection }
        : {}),
    });
    this.telemetry = new TelemetryBus(this, 'Telemetry', { environmentName });

    this.lanes = LANES.map(
      (lane) =>
        new CommandLane(this, lane.id, {
          lane,
          environmentName,
          lifecycle: this.lifecycle,
          telemetry: this.telemetry,
          maxReceiveCount: config.lanes.maxReceiveCount,
          batchSize: config.lanes.batchSize,
          maxBatchingWindow: Duration.seconds(config.lanes.maxBatchingWindowSeconds),
          maxConcurrency: config.lanes.maxConcurrency,
          functionTimeout: Duration.seconds(config.lanes.functionTimeoutSeconds),
          memorySize: config.lanes.memorySizeMb,
          retentionDays: config.lifecycle.retentionDays,
          commands: config.commands,
          logRetention,
          logRemovalPolicy,
        }),
    );

    this.api = new CommandApi(this, 'Api', {
      environmentName,
      lifecycle: this.lifecycle,
      lanes: this.lanes,
      authorization: config.api.authorization,
      throttling: config.api.throttling,
      jwt: {
        ...(config.auth.jwt.issuer !== undefined ? { issuer: config.auth.jwt.issuer } : {}),
        ...(config.auth.jwt.audience !== undefined ? { audience: config.auth.jwt.audience } : {}),
        householdClaim: config.auth.jwt.householdClaim,
        roleClaim: config.auth.jwt.roleClaim,
      },
      retainUserPool: config.lifecycle.retainOnDelete,
      workerClockSkewSeconds: config.workers.clockSkewSeconds,
      maxBodyBytes: config.api.maxBodyBytes,
      retentionDays: config.lifecycle.retentionDays,
      logRetention,
      logRemovalPolicy,
    });

    const sweepLane = this.lanes.find((lane) => lane.lane.name === NIGHTLY_SWEEP_LANE);
    if (!sweepLane) {
      throw new InvalidPropsError('RunlaneStack', [`lanes: LANES has no ${NIGHTLY_SWEEP_LANE} lane`]);
    }
    this.nightlySweep = new NightlySweepSchedule(this, 'NightlySweep', {
      environmentName,
      sweepLane,
      schedule: config.sweepSchedule,
    });

    this.replayDrill = new ReplayDrill(this, 'ReplayDrill', {
      environmentName,
      lanes: this.lanes,
      lifecycle: this.lifecycle,
      telemetry: this.telemetry,
      retentionDays: config.lifecycle.retentionDays,
      logRetention,
      logRemovalPolicy,
    });

    this.runnerEvents = new RunnerEventIngest(this, 'RunnerEvents', {
      environmentName,
      lifecycle: this.lifecycle,
      telemetry: this.telemetry,
      retentionDays: config.lifecycle.retentionDays,
      logRetention,
      logRemovalPolicy,
    });

    this.supervisorSilentHosts = new SupervisorSilentHostsCheck(this, 'SupervisorSilentHosts', {
      environmentName,
      lifecycle: this.lifecycle,
      staleMinutes: config.alarms.supervisor.silentHosts.staleMinutes,
      logRetention,
      logRemovalPolicy,
    });

    const delegatingLane = this.lanes.find(
      (lane) => lane.lane.name === laneForCommandType(DELEGATING_COMMAND_TYPE).name,
    );
    if (!delegatingLane) {
      throw new InvalidPropsError('RunlaneStack', [`lanes: no lane carries ${DELEGATING_COMMAND_TYPE}`]);
    }
    const workerSettings = {
      delegationEnabled: config.workers.delegationEnabled,
      heartbeatStaleMultiple: config.workers.heartbeatStaleMultiple,
      stuckTaskMinutes: config.workers.stuckTaskMinutes,
      resultDeadlineSeconds: config.workers.resultDeadlineSeconds,
    };
    if (config.workers.sites.length > 0) {
      this.workers = new WorkerDelegation(this, 'Workers', {
        environmentName,
        lifecycle: this.lifecycle,
        telemetry: this.telemetry,
        api: this.api,
        sites: config.workers.sites,
        hostRoleTrust: config.workers.hostRoleTrust,
        clockSkewSeconds: config.workers.clockSkewSeconds,
        ...workerSettings,
        maxReceiveCount: config.workers.maxReceiveCount,
        visibilityTimeout: Duration.seconds(config.workers.visibilityTimeoutSeconds),
        retentionDays: config.lifecycle.retentionDays,
        logRetention,
        logRemovalPolicy,
      });
      this.workers.bindApi(this.api.handlerFunction);
      this.workers.bindDelegatingWorker(delegatingLane.workerFunction);
    } else {
      this.workers = undefined;
      const variables = workerRuntimeEnvironment(this, workerSettings, {});
      for (const fn of [this.api.handlerFunction, delegatingLane.workerFunction]) {
        for (const [name, value] of Object.entries(variables)) fn.function.addEnvironment(name, value);
      }
    }

    const { criticalEmails, warningEmails, ...thresholds } = config.alarms;
    this.alarmTopics = new AlarmTopics(this, 'AlarmTopics', {
      environmentName,
      criticalEmails,
      warningEmails,
      keyRemovalPolicy: logRemovalPolicy,
    });
    this.alarms = new RunlaneAlarms(this, 'Alarms', {
      environmentName,
      lanes: this.lanes,
      topics: this.alarmTopics,
      runnerEventDeadLetterQueue: this.runnerEvents.deadLetterQueue,
      ...(this.workers ? { workers: this.workers } : {}),
      thresholds,
    });
    this.dashboard = new RunlaneDashboard(this, 'Dashboard', {
      environmentName,
      lanes: this.lanes,
      api: this.api,
      alarms: this.alarms,
      runnerEvents: this.runnerEvents,
      silentHostsCheck: this.supervisorSilentHosts,
      ...(this.workers ? { workers: this.workers } : {}),
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Command API base URL' });
    const householdAuth = this.api.householdAuth;
    new CfnOutput(this, 'JwtIssuer', {
      value: householdAuth.issuer,
      description: 'Issuer of the JWTs the household routes accept (Authorization: Bearer <ID token>)',
    });
    if (householdAuth.userPool && householdAuth.userPoolClient) {
      new CfnOutput(this, 'UserPoolId', {
        value: householdAuth.userPool.userPoolId,
        description:
          'Cognito user pool of household users: create users with custom:household and custom:runlane_role (approver | member)',
      });
      new CfnOutput(this, 'UserPoolClientId', {
        value: householdAuth.userPoolClient.userPoolClientId,
        description: 'App client of the household user pool (no secret; SRP or user-password auth)',
      });
    }
    for (const lane of this.lanes) {
      new CfnOutput(this, `${lane.lane.id}QueueUrl`, {
        value: lane.queue.queueUrl,
        description: `Queue URL of lane ${lane.lane.name}`,
      });
      new CfnOutput(this, `${lane.lane.id}DeadLetterQueueUrl`, {
        value: lane.deadLetterQueue.queueUrl,
        description: `Dead-letter queue URL of lane ${lane.lane.name}`,
      });
    }
    new CfnOutput(this, 'LifecycleTableName', {
      value: this.lifecycle.tableName,
      description: 'Lifecycle table',
    });
    new CfnOutput(this, 'TelemetryBusName', { value: this.telemetry.busName, description: 'Telemetry bus' });
    new CfnOutput(this, 'CriticalAlarmTopicArn', {
      value: this.alarmTopics.critical.topicArn,
      description: 'SNS topic of the critical alarms (pages)',
    });
    new CfnOutput(this, 'WarningAlarmTopicArn', {
      value: this.alarmTopics.warning.topicArn,
      description: 'SNS topic of the warning alarms',
    });
    new CfnOutput(this, 'ReplayDrillStateMachineArn', {
      value: this.replayDrill.stateMachine.stateMachineArn,
      description: 'Replay drill state machine (start executions with name = drillId)',
    });
    new CfnOutput(this, 'RunnerEventDeadLetterQueueUrl', {
      value: this.runnerEvents.deadLetterQueue.queueUrl,
      description:
        'Runner event ingest DLQ: refused agent events (with reason) and events not stored after retries',
    });
    new CfnOutput(this, 'AgentReporterPolicyArn', {
      value: this.runnerEvents.agentReporterPolicy.managedPolicyArn,
      description:
        'Managed policy for hosts running runlane-agent (PutEvents on the telemetry bus, source runlane.agent)',
    });
    if (this.workers) {
      for (const lane of this.workers.siteLanes) {
        const suffix = workerSiteOutputId(lane.site);
        new CfnOutput(this, `WorkerTaskQueueUrl${suffix}`, {
          value: lane.queue.queueUrl,
          description: `Task lane of worker site ${lane.site}: queueUrl of runlane-agent worker there`,
        });
        new CfnOutput(this, `WorkerHostPolicyArn${suffix}`, {
          value: lane.hostPolicy.managedPolicyArn,
          description: `Managed policy for the worker hosts of site ${lane.site} (its task lane, worker events, /api/workers/sites/${lane.site} claim/results/heartbeats)`,
        });
        new CfnOutput(this, `WorkerHostRoleArn${suffix}`, {
          value: lane.hostRole.roleArn,
          description: `Role the worker hosts of site ${lane.site} assume, with their worker id as the role session name`,
        });
      }
      new CfnOutput(this, 'WorkerEventDeadLetterQueueUrl', {
        value: this.workers.deadLetterQueue.queueUrl,
        description:
          'Worker event ingest DLQ: refused worker events (with reason) and events not stored after retries',
      });
    }
    new CfnOutput(this, 'DashboardName', {
      value: this.dashboard.dashboard.dashboardName,
      description: 'CloudWatch dashboard of this environment',
    });
  }
}
