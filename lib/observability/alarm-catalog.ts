import { SILENT_HOSTS_CHECK_INTERVAL_MINUTES } from '#core/supervisor/silent-hosts.js';
import { WORKER_SWEEP_INTERVAL_MINUTES } from '#core/workers/sweep.js';

/**
 * Every kind of alarm an environment has, declared once: its severity (which
 * SNS topic it notifies), how it evaluates, and the runbook section an on-call
 * engineer opens when it fires. `RunlaneAlarms` builds the alarms from this
 * table and puts the runbook link in each alarm's description; the runbook
 * checks read the same table to make sure every section exists.
 */

/** `critical` pages (commands are stuck or lost); `warning` needs attention in working hours. */
export type AlarmSeverity = 'critical' | 'warning';

export const ALARM_SEVERITIES: readonly AlarmSeverity[] = ['critical', 'warning'];

export interface RunbookSection {
  /** Path from the repository root. */
  readonly file: string;
  /** The heading text, exactly as it appears in the runbook. */
  readonly heading: string;
}

export interface AlarmKind {
  /** Short name used in alarm names, e.g. `dlq-messages`. */
  readonly slug: string;
  readonly title: string;
  readonly severity: AlarmSeverity;
  /** One alarm per lane, one per worker site (environments with `workers.sites`), or one for the environment. */
  readonly scope: 'lane' | 'site' | 'environment';
  /** Evaluation period in seconds; `null` when it comes from the configuration. */
  readonly periodSeconds: number | null;
  /** Periods evaluated; `null` when it comes from the configuration (a burn alarm's sustain ÷ window). */
  readonly evaluationPeriods: number | null;
  /** Breaching periods that alarm; `null` when it comes from the configuration (all evaluated periods). */
  readonly datapointsToAlarm: number | null;
  /**
   * How a period without data counts. `notBreaching` for metrics that are only
   * emitted when something happens (an idle lane, an environment without
   * supervisors); `breaching` for a metric a schedule emits every period, 0
   * included, whose absence means the check itself stopped.
   * @default 'notBreaching'
   */
  readonly missingData?: 'notBreaching' | 'breaching';
  readonly runbook: RunbookSection;
}

/** The agentic-worker runbook (seed 003, rewritten for Runlane). */
export const AGENTIC_WORKER_RUNBOOK = 'runbooks/agentic-worker.md';

/** The runner watchdog runbook (seed 002, rewritten for Runlane). */
export const RUNNER_WATCHDOG_RUNBOOK = 'runbooks/runner-watchdog.md';

/** The supervisor runbook (seed 001, rewritten for Runlane). */
export const SUPERVISOR_RUNBOOK = 'runbooks/supervisor.md';

/** The worker operations runbook (seed 004, rewritten for Runlane); headings are the seed's. */
export const WORKER_OPERATIONS_RUNBOOK = 'runbooks/worker-operations.md';

/**
 * Alarm kind → evaluation and runbook section. The headings of seed 003 are
 * kept where one exists ("Queue Retry And Dead-Letter Workflow"); the others
 * are sections the runbook must add.
 */
export const ALARM_CATALOG = {
  deadLetterQueueMessages: {
    slug: 'dlq-messages',
    title: 'Lane DLQ has messages',
    severity: 'critical',
    scope: 'lane',
    periodSeconds: 60,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    runbook: { file: AGENTIC_WORKER_RUNBOOK, heading: 'Queue Retry And Dead-Letter Workflow' },
  },
  oldestMessageAge: {
    slug: 'oldest-message-age',
    title: 'Lane oldest message too old',
    severity: 'critical',
    scope: 'lane',
    periodSeconds: 60,
    evaluationPeriods: 3,
    datapointsToAlarm: 3,
    runbook: { file: AGENTIC_WORKER_RUNBOOK, heading: 'Lane Not Draining' },
  },
  workerErrors: {
    slug: 'worker-errors',
    title: 'Lane worker errors',
    severity: 'critical',
    scope: 'lane',
    periodSeconds: 300,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    runbook: { file: AGENTIC_WORKER_RUNBOOK, heading: 'Worker Errors And Throttles' },
  },
  workerThrottles: {
    slug: 'worker-throttles',
    title: 'Lane worker throttled',
    severity: 'warning',
    scope: 'lane',
    periodSeconds: 300,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    runbook: { file: AGENTIC_WORKER_RUNBOOK, heading: 'Worker Errors And Throttles' },
  },
  needsReviewBacklog: {
    slug: 'needsreview-backlog',
    title: 'NeedsReview backlog growing',
    severity: 'warning',
    scope: 'environment',
    periodSeconds: null,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    runbook: { file: AGENTIC_WORKER_RUNBOOK, heading: 'NeedsReview Backlog' },
  },
  endToEndLatency: {
    slug: 'latency-p95',
    title: 'Lane end-to-end latency p95 too high',
    severity: 'warning',
    scope: 'lane',
    periodSeconds: 300,
    evaluationPeriods: 3,
    datapointsToAlarm: 3,
    runbook: { file: AGENTIC_WORKER_RUNBOOK, heading: 'End-To-End Latency' },
  },
  // Seed 002's alarm names are the slugs: the runbook, Slack template and issue
  // template all say `RunnerStallFastBurn` / `RunnerStallSlowBurn`.
  runnerStallFastBurn: {
    slug: 'RunnerStallFastBurn',
    title: 'Runner stall rate fast burn',
    severity: 'critical',
    scope: 'environment',
    periodSeconds: null,
    evaluationPeriods: null,
    datapointsToAlarm: null,
    runbook: { file: RUNNER_WATCHDOG_RUNBOOK, heading: 'Incident Response Checklist' },
  },
  runnerStallSlowBurn: {
    slug: 'RunnerStallSlowBurn',
    title: 'Runner stall rate slow burn',
    severity: 'warning',
    scope: 'environment',
    periodSeconds: null,
    evaluationPeriods: null,
    datapointsToAlarm: null,
    runbook: { file: RUNNER_WATCHDOG_RUNBOOK, heading: 'Incident Response Checklist' },
  },
  runnerEventDeadLetters: {
    slug: 'runner-events-dlq-messages',
    title: 'Runner event ingest DLQ has messages',
    severity: 'warning',
    scope: 'environment',
    periodSeconds: 60,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    runbook: { file: RUNNER_WATCHDOG_RUNBOOK, heading: 'Runner Event Dead Letters' },
  },
  // Seed 001's procedures: P1-003 Dashboard IPC Disconnected, P1-002 Child Task Crash Loop.
  supervisorDashboardDisconnected: {
    slug: 'SupervisorDashboardDisconnected',
    title: 'Supervisor dashboard link disconnected',
    severity: 'warning',
    scope: 'environment',
    periodSeconds: null,
    evaluationPeriods: null,
    datapointsToAlarm: null,
    runbook: { file: SUPERVISOR_RUNBOOK, heading: 'P1-003: Dashboard IPC Disconnected' },
  },
  supervisorChildrenQuarantined: {
    slug: 'SupervisorChildrenQuarantined',
    title: 'Supervisor children quarantined',
    severity: 'warning',
    scope: 'environment',
    periodSeconds: null,
    evaluationPeriods: null,
    datapointsToAlarm: null,
    runbook: { file: SUPERVISOR_RUNBOOK, heading: 'P1-002: Child Task Crash Loop' },
  },
  // A host that stopped reporting: its link to the bus stays down (P1-003's symptom, seen from
  // the control plane), or its supervisor is down (then P1-001 from its step 1). The check
  // publishes a value every period, 0 included: no data means the check did not run, and a
  // check that does not run cannot vouch for the hosts, so that alarms too.
  supervisorSilentHosts: {
    slug: 'SupervisorSilentHosts',
    title: 'Supervisor host silent',
    severity: 'warning',
    scope: 'environment',
    periodSeconds: SILENT_HOSTS_CHECK_INTERVAL_MINUTES * 60,
    evaluationPeriods: null,
    datapointsToAlarm: null,
    missingData: 'breaching',
    runbook: { file: SUPERVISOR_RUNBOOK, heading: 'P1-003: Dashboard IPC Disconnected' },
  },
  // Seed 004 (worker operations): only environments with worker sites have these. The sweep
  // publishes every 5 minutes, 0 included, so its absence (the sweep stopped) alarms too.
  // Offline workers are a warning: delegation to a site without an online worker fails closed
  // (no_worker_online → NeedsReview) and tasks already queued are watched by the queue alarms;
  // a retired worker also counts until its registry entry expires.
  workersOffline: {
    slug: 'WorkersOffline',
    title: 'Workers offline (stale heartbeat)',
    severity: 'warning',
    scope: 'environment',
    periodSeconds: WORKER_SWEEP_INTERVAL_MINUTES * 60,
    evaluationPeriods: null,
    datapointsToAlarm: null,
    missingData: 'breaching',
    runbook: { file: WORKER_OPERATIONS_RUNBOOK, heading: 'Worker Startup' },
  },
  // A task executing past workers.stuckTaskMinutes is a delegated action whose run is not
  // finishing: commands are stuck, so it pages.
  workerTasksStuckExecuting: {
    slug: 'WorkerTasksStuckExecuting',
    title: 'Worker tasks stuck in executing',
    severity: 'critical',
    scope: 'environment',
    periodSeconds: WORKER_SWEEP_INTERVAL_MINUTES * 60,
    evaluationPeriods: null,
    datapointsToAlarm: null,
    missingData: 'breaching',
    runbook: { file: WORKER_OPERATIONS_RUNBOOK, heading: 'Tasks stuck in executing' },
  },
  // A task message no worker deleted after maxReceiveCount receives: its action never runs.
  workerTaskDeadLetters: {
    slug: 'dlq-messages',
    title: 'Worker task DLQ has messages',
    severity: 'critical',
    scope: 'site',
    periodSeconds: 60,
    evaluationPeriods: null,
    datapointsToAlarm: null,
    runbook: { file: WORKER_OPERATIONS_RUNBOOK, heading: 'Queue not draining' },
  },
  workerTaskQueueAge: {
    slug: 'oldest-message-age',
    title: 'Worker task lane not draining',
    severity: 'critical',
    scope: 'site',
    periodSeconds: 60,
    evaluationPeriods: null,
    datapointsToAlarm: null,
    runbook: { file: WORKER_OPERATIONS_RUNBOOK, heading: 'Queue not draining' },
  },
  // Refused worker events (e.g. an unknown payload_type) or results not stored after retries;
  // a lost execution_result also shows up as a stuck task, which pages.
  workerEventDeadLetters: {
    slug: 'worker-events-dlq-messages',
    title: 'Worker event ingest DLQ has messages',
    severity: 'warning',
    scope: 'environment',
    periodSeconds: 60,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    runbook: { file: WORKER_OPERATIONS_RUNBOOK, heading: 'Replay not clearing' },
  },
} as const satisfies Record<string, AlarmKind>;

/** The alarm kinds only an environment with worker sites has (`WorkerDelegation`). */
export const WORKER_ALARM_KINDS = [
  'workersOffline',
  'workerTasksStuckExecuting',
  'workerTaskDeadLetters',
  'workerTaskQueueAge',
  'workerEventDeadLetters',
] as const satisfies readonly (keyof typeof ALARM_CATALOG)[];

export type AlarmKindName = keyof typeof ALARM_CATALOG;

/**
 * The anchor GitHub gives a Markdown heading: lower case, punctuation other
 * than `-` and `_` removed, spaces to `-`.
 *
 * @example
 * headingAnchor('Queue Retry And Dead-Letter Workflow'); // 'queue-retry-and-dead-letter-workflow'
 */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/**
 * The runbook link an alarm's description carries: path and anchor.
 *
 * @example
 * runbookLink('deadLetterQueueMessages'); // 'runbooks/agentic-worker.md#queue-retry-and-dead-letter-workflow'
 */
export function runbookLink(kind: AlarmKindName): string {
  const { file, heading } = ALARM_CATALOG[kind].runbook;
  return `${file}#${headingAnchor(heading)}`;
}
