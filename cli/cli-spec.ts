/**
 * The `runlane` command line as data: every command's options, subcommands and positionals.
 * cli/commands.ts and the bin/*-command(s).ts modules parse with these objects; the runbook
 * checks parse the runbooks' `runlane …` lines with them (see command-line.ts). This module
 * imports no command module (cli/commands.ts keeps those lazy) and only pure constants.
 *
 * A group whose command module parses every flag in one go (dlq, report, stalls, supervisors,
 * workers, tasks) has the union of its subcommands' options at the group, and each subcommand
 * the flags it really takes (the module refuses the others after parsing, with its own message).
 */

import { type CommandSpec, commandPaths, parseCommandLine } from '#common/command-line.js';
import { RUNNER_EVIDENCE_FILES } from '#contracts/agent-events.js';
import { STALL_BREAKDOWN_FIELDS } from '#core/runner/report.js';

/** The local stack's API, where a command targets it by default. */
const DEFAULT_API_URL = 'http://127.0.0.1:3000';

const API_URL = { 'api-url': { type: 'string', default: DEFAULT_API_URL } } as const;
const ENV = { env: { type: 'string' } } as const;
const JSON_FLAG = { json: { type: 'boolean', default: false } } as const;
const HELP = { help: { type: 'boolean', default: false } } as const;

/** `runlane local`. */
export const LOCAL_SPEC = {
  options: {
    port: { type: 'string' },
    'dynamo-port': { type: 'string' },
    'sqs-port': { type: 'string' },
    'events-port': { type: 'string' },
    'data-dir': { type: 'string' },
    ephemeral: { type: 'boolean', default: false },
    reset: { type: 'boolean', default: false },
    'visibility-timeout': { type: 'string' },
    'sweep-interval': { type: 'string' },
    'supervisor-check-interval': { type: 'string' },
    'worker-sites': { type: 'string' },
    'worker-sweep-interval': { type: 'string' },
    'worker-delegation': { type: 'boolean' },
    pretty: { type: 'boolean', default: false },
    ...JSON_FLAG,
    ...HELP,
  },
} as const satisfies CommandSpec;

/** `runlane demo`. */
export const DEMO_SPEC = {
  options: {
    ...API_URL,
    start: { type: 'boolean', default: false },
    timeout: { type: 'string' },
    ...JSON_FLAG,
    ...HELP,
  },
} as const satisfies CommandSpec;

/** `runlane sweep`. */
export const SWEEP_SPEC = { options: { ...API_URL, ...HELP } } as const satisfies CommandSpec;

/** `runlane trace <commandId|messageId|correlationId>`. */
export const TRACE_SPEC = {
  options: {
    ...API_URL,
    ...ENV,
    'table-name': { type: 'string' },
    region: { type: 'string' },
    ...JSON_FLAG,
    ...HELP,
  },
  positionals: { min: 1, max: 1 },
} as const satisfies CommandSpec;

const DLQ_OPTIONS = { ...API_URL, ...ENV, lane: { type: 'string' }, ...JSON_FLAG, ...HELP } as const;

/** `runlane dlq list | show <messageId>`. */
export const DLQ_SPEC = {
  options: DLQ_OPTIONS,
  subcommands: {
    list: { options: DLQ_OPTIONS },
    show: { options: DLQ_OPTIONS, positionals: { min: 1, max: 1 } },
  },
} as const satisfies CommandSpec;

/** `runlane replay --lane <lane>`. */
export const REPLAY_SPEC = {
  options: {
    ...API_URL,
    ...ENV,
    lane: { type: 'string' },
    max: { type: 'string', default: '10' },
    'dry-run': { type: 'boolean', default: false },
    confirm: { type: 'boolean', default: false },
    'verify-timeout': { type: 'string', default: '120' },
    'via-step-functions': { type: 'boolean', default: false },
    'bulk-limit': { type: 'string' },
    'drill-id': { type: 'string' },
    ...JSON_FLAG,
    ...HELP,
  },
} as const satisfies CommandSpec;

/** `runlane gate`. */
export const GATE_SPEC = {
  options: {
    ...API_URL,
    out: { type: 'string', default: 'evidence' },
    timeout: { type: 'string', default: '180' },
    ...JSON_FLAG,
    ...HELP,
  },
} as const satisfies CommandSpec;

const REPORT_DAILY_OPTIONS = {
  evidence: { type: 'string' },
  runs: { type: 'string' },
  ...ENV,
  local: { type: 'boolean', default: false },
  ...API_URL,
  now: { type: 'string' },
  html: { type: 'string' },
  'require-data': { type: 'boolean', default: false },
  ...JSON_FLAG,
  ...HELP,
} as const;

/** `runlane report daily`. */
export const REPORT_SPEC = {
  options: REPORT_DAILY_OPTIONS,
  subcommands: { daily: { options: REPORT_DAILY_OPTIONS } },
} as const satisfies CommandSpec;

const STALLS_COMMON_OPTIONS = {
  evidence: { type: 'string', default: RUNNER_EVIDENCE_FILES.stalls },
  ...JSON_FLAG,
  ...HELP,
} as const;
const STALLS_TAIL_OPTIONS = { ...STALLS_COMMON_OPTIONS, lines: { type: 'string', short: 'n' } } as const;
const STALLS_BY_OPTIONS = {
  ...STALLS_COMMON_OPTIONS,
  tail: { type: 'string' },
  since: { type: 'string' },
  now: { type: 'string' },
} as const;

/** `runlane stalls tail | by <field>`. */
export const STALLS_SPEC = {
  options: { ...STALLS_TAIL_OPTIONS, ...STALLS_BY_OPTIONS },
  subcommands: {
    tail: { options: STALLS_TAIL_OPTIONS },
    by: { options: STALLS_BY_OPTIONS, positionals: { min: 1, max: 1, choices: STALL_BREAKDOWN_FIELDS } },
  },
} as const satisfies CommandSpec;

const SUPERVISORS_HEALTH_OPTIONS = {
  ...ENV,
  local: { type: 'boolean', default: false },
  ...API_URL,
  'stale-minutes': { type: 'string' },
  ...JSON_FLAG,
  ...HELP,
} as const;

/** `runlane supervisors health`. */
export const SUPERVISORS_SPEC = {
  options: SUPERVISORS_HEALTH_OPTIONS,
  subcommands: { health: { options: SUPERVISORS_HEALTH_OPTIONS } },
} as const satisfies CommandSpec;

const WORKERS_OPTIONS = { ...ENV, ...API_URL, ...JSON_FLAG, ...HELP } as const;
const WORKERS_DELEGATION_OPTIONS = { ...WORKERS_OPTIONS, 'changed-by': { type: 'string' } } as const;
/** `workers config`: a deployed stack only (no --api-url). */
const WORKERS_CONFIG_OPTIONS = {
  ...ENV,
  site: { type: 'string' },
  'worker-id': { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean', default: false },
  ...JSON_FLAG,
  ...HELP,
} as const;

/** `runlane workers health | metrics | delegation [on|off] | config`. */
export const WORKERS_SPEC = {
  options: { ...WORKERS_DELEGATION_OPTIONS, ...WORKERS_CONFIG_OPTIONS },
  subcommands: {
    health: { options: WORKERS_OPTIONS },
    metrics: { options: WORKERS_OPTIONS },
    delegation: { options: WORKERS_DELEGATION_OPTIONS, positionals: { max: 1, choices: ['on', 'off'] } },
    config: { options: WORKERS_CONFIG_OPTIONS },
  },
} as const satisfies CommandSpec;

const TASKS_STUCK_OPTIONS = {
  ...ENV,
  ...API_URL,
  minutes: { type: 'string' },
  ...JSON_FLAG,
  ...HELP,
} as const;

/** `runlane tasks stuck`. */
export const TASKS_SPEC = {
  options: TASKS_STUCK_OPTIONS,
  subcommands: { stuck: { options: TASKS_STUCK_OPTIONS } },
} as const satisfies CommandSpec;

/**
 * The whole `runlane` command line. `runlane help` prints the help too; it is left out here,
 * as a runbook has no use for it.
 *
 * @example
 * parseCommandLine(RUNLANE_CLI, ['stalls', 'by', 'rootCause', '--since', '30m']).path; // ['stalls', 'by']
 */
export const RUNLANE_CLI = {
  options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } },
  subcommands: {
    local: LOCAL_SPEC,
    demo: DEMO_SPEC,
    sweep: SWEEP_SPEC,
    trace: TRACE_SPEC,
    dlq: DLQ_SPEC,
    replay: REPLAY_SPEC,
    gate: GATE_SPEC,
    report: REPORT_SPEC,
    stalls: STALLS_SPEC,
    supervisors: SUPERVISORS_SPEC,
    workers: WORKERS_SPEC,
    tasks: TASKS_SPEC,
  },
} as const satisfies CommandSpec;

/**
 * Checks a `runlane` command line without running anything (what the runbook checks call): throws,
 * naming the bad flag, subcommand or argument, when `runlane` would refuse it.
 */
export function checkRunlaneCommandLine(argv: readonly string[]): void {
  parseCommandLine(RUNLANE_CLI, argv);
}

/** Every command path of `runlane`, group paths included (`['dlq']`, `['dlq', 'show']`). */
export function runlaneCommandPaths(): string[][] {
  const paths = new Set<string>();
  for (const path of commandPaths(RUNLANE_CLI)) {
    for (let length = 1; length <= path.length; length++) paths.add(path.slice(0, length).join(' '));
  }
  return [...paths].map((path) => path.split(' '));
}
