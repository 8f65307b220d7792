import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import { MAX_STALE_MINUTES, SILENT_HOSTS_CHECK_INTERVAL_MINUTES } from '#core/supervisor/silent-hosts.js';
import { DEFAULT_ALARM_SETTINGS } from '../config/environment-config.js';
import { HANDLER_ENTRIES, namePrefixFor, SUPERVISOR_SILENT_HOSTS_DEFAULTS } from '../defaults.js';
import { throwIfProblems } from '../errors.js';
import { RunlaneFunction } from '../runlane-function.js';
import type { LifecycleStorage } from '../storage/lifecycle-storage.js';
import { TABLE_ACCESS } from '../storage/table-access.js';

export interface SupervisorSilentHostsCheckProps {
  /** Runlane environment name: `RUNLANE_ENVIRONMENT`, the hosts' partition and the metric's `Environment`. */
  readonly environmentName: string;
  /** The table the supervisor health reports are kept in (`SUPERVISOR#<env>#<shard>` / `HOST#<host>`). */
  readonly lifecycle: LifecycleStorage;
  /**
   * A host whose latest report is older than this many minutes is silent (`SUPERVISOR_STALE_MINUTES`).
   * @default 15 (`alarms.supervisor.silentHosts.staleMinutes`)
   */
  readonly staleMinutes?: number;
  /**
   * Prefix of the rule name.
   * @default `runlane-<environmentName>`
   */
  readonly namePrefix?: string;
  /**
   * Function timeout (one paginated Query of the hosts' partition).
   * @default Duration.seconds(30)
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
   * @default functions/handlers/supervisor-silent-hosts.ts
   */
  readonly entry?: string;
}

/**
 * The control plane's view of supervisor hosts that stopped reporting
 * (issue 7: "alarm on a host whose `dashboard_link` stays disconnected" — a
 * host cut off from the bus sends nothing, so no report-driven alarm sees it).
 *
 * Creates:
 * - the check function (`RunlaneFunction`, supervisor-silent-hosts handler)
 *   with `LIFECYCLE_TABLE_NAME` and `SUPERVISOR_STALE_MINUTES`; it reads every
 *   host's latest health report, publishes `SupervisorSilentHosts` (0 when
 *   none) and logs each silent host with `host` and `last_seen`. Its only data
 *   permission: `dynamodb:Query` on the table (no index), in the partitions
 *   of `SUPERVISOR#<environment>` only (`dynamodb:LeadingKeys`: its shards
 *   `#0`…`#7` and the unsharded partition written before the sharding);
 * - the rule `<prefix>-supervisor-silent-hosts` on the default bus,
 *   `rate(5 minutes)`, targeting the function with no retries and events
 *   older than 4 minutes dropped: a missed run is replaced by the next one, and
 *   the `SupervisorSilentHosts` alarm treats a period without data as breaching;
 * - the function's asynchronous invoke configuration: no retries, events kept
 *   4 minutes, for the same reason.
 * The alarm on the metric is `RunlaneAlarms`' (`supervisorSilentHosts`).
 *
 * @example
 * const check = new SupervisorSilentHostsCheck(this, 'SupervisorSilentHosts', { environmentName: 'prod', lifecycle, staleMinutes: 15 });
 * check.function; // on the dashboard's supervisor row
 */
export class SupervisorSilentHostsCheck extends Construct {
  public readonly rule: events.Rule;
  public readonly checkFunction: RunlaneFunction;
  public readonly function: lambda.IFunction;
  /** The threshold the function was given. */
  public readonly staleMinutes: number;

  public constructor(scope: Construct, id: string, props: SupervisorSilentHostsCheckProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? namePrefixFor(props.environmentName);
    const ruleName = `${prefix}-supervisor-silent-hosts`;
    this.staleMinutes = props.staleMinutes ?? DEFAULT_ALARM_SETTINGS.supervisor.silentHosts.staleMinutes;
    const timeout = props.functionTimeout ?? SUPERVISOR_SILENT_HOSTS_DEFAULTS.timeout;
    const memorySize = props.memorySize ?? SUPERVISOR_SILENT_HOSTS_DEFAULTS.memorySize;
    checkProps({ ruleName, staleMinutes: this.staleMinutes, timeout });

    this.checkFunction = new RunlaneFunction(this, 'Function', {
      entry: props.entry ?? HANDLER_ENTRIES.supervisorSilentHosts,
      environmentName: props.environmentName,
      serviceName: 'runlane-supervisor-silent-hosts',
      description: `Runlane ${props.environmentName}: counts supervisor hosts with no health report for more than ${this.staleMinutes} min (SupervisorSilentHosts)`,
      timeout,
      memorySize,
      ...(props.logRetention !== undefined ? { logRetention: props.logRetention } : {}),
      ...(props.logRemovalPolicy !== undefined ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
      environment: {
        [RUNTIME_ENV.lifecycleTableName]: props.lifecycle.tableName,
        [RUNTIME_ENV.supervisorStaleMinutes]: String(this.staleMinutes),
      },
    });
    this.function = this.checkFunction.function;
    props.lifecycle.grantTableAccess(
      this.function,
      TABLE_ACCESS.supervisorSilentHosts(props.environmentName),
    );

    const eventAge = SUPERVISOR_SILENT_HOSTS_DEFAULTS.maxEventAge;
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: eventAge });
    this.rule = new events.Rule(this, 'Rule', {
      ruleName,
      description: `Runlane ${props.environmentName}: count supervisor hosts that stopped reporting`,
      schedule: events.Schedule.rate(Duration.minutes(SILENT_HOSTS_CHECK_INTERVAL_MINUTES)),
    });
    this.rule.addTarget(
      new targets.LambdaFunction(this.function, { retryAttempts: 0, maxEventAge: eventAge }),
    );

    const nothingToKeep =
      'A run of the silent-host check carries no data: it reads the current state and the next scheduled run, 5 minutes later, does the same work. A dead-letter queue would only collect schedule ticks nobody can replay usefully; a run that does not happen leaves a period without SupervisorSilentHosts, which its alarm treats as breaching.';
    Validations.of(this.checkFunction).acknowledge(
      { id: 'Serverless-LambdaDLQ', reason: nothingToKeep },
      { id: 'Serverless-LambdaAsyncFailureDestination', reason: nothingToKeep },
    );
    Validations.of(this.rule).acknowledge({ id: 'Serverless-EventBusDLQ', reason: nothingToKeep });
  }
}

function checkProps(settings: { ruleName: string; staleMinutes: number; timeout: Duration }): void {
  const problems: string[] = [];
  if (!/^[.\-_A-Za-z0-9]{1,64}$/.test(settings.ruleName)) {
    problems.push(`namePrefix (rule name): "${settings.ruleName}" must be 1-64 characters of [A-Za-z0-9._-]`);
  }
  const stale = settings.staleMinutes;
  if (!(Number.isInteger(stale) && stale >= 1 && stale <= MAX_STALE_MINUTES)) {
    problems.push(`staleMinutes: must be an integer from 1 to ${MAX_STALE_MINUTES}, got ${stale}`);
  }
  const seconds = settings.timeout.toSeconds({ integral: false });
  // A run must end well before the next one starts.
  if (!(seconds >= 1 && seconds <= 120)) {
    problems.push(`functionTimeout: must be 1 to 120 seconds, got ${settings.timeout.toHumanString()}`);
  }
  throwIfProblems('SupervisorSilentHostsCheck', problems);
}
