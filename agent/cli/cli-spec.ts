/**
 * The `runlane-agent` command line as data (see common/command-line.ts): agent/cli/main.ts and the
 * agent/*-cli.ts, agent/cli/ctl.ts modules parse with these objects, the runbook checks
 * parse the runbooks' `runlane-agent …` lines with them. Imports nothing that runs.
 *
 * `spool`, `ctl` and the agent itself dispatch on their first argument, so only `--help` may
 * come before a subcommand. A module that parses the flags of all its subcommands in one go
 * (ctl, worker) refuses some after parsing, with its own message; the subcommands here take
 * only the flags they really accept.
 */
import { type CommandSpec, commandPaths, parseCommandLine } from '#common/command-line.js';

/** `runlane-agent run [options] -- <command> [args…]`. */
export const RUN_SPEC = {
  options: {
    'command-type': { type: 'string' },
    environment: { type: 'string' },
    'idle-ms': { type: 'string' },
    'hard-ms': { type: 'string' },
    'kill-grace-ms': { type: 'string' },
    config: { type: 'string' },
    'evidence-file': { type: 'string' },
    'run-summary-file': { type: 'string' },
    'event-bus': { type: 'string' },
    'spool-dir': { type: 'string' },
    'no-report': { type: 'boolean' },
    'metrics-port': { type: 'string' },
    'metrics-linger-ms': { type: 'string' },
    host: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  passthrough: true,
} as const satisfies CommandSpec;

/** `--help` as the first argument of a command that dispatches on it (also `-h`). */
const DISPATCH_HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** `status` takes `--environment` and `--event-bus` too (they are parsed, and unused). */
const SPOOL_OPTIONS = {
  config: { type: 'string' },
  'spool-dir': { type: 'string' },
  environment: { type: 'string' },
  'event-bus': { type: 'string' },
  json: { type: 'boolean' },
  // Only `--help`: `-h` after the subcommand is refused.
  help: { type: 'boolean' },
} as const;

/** `runlane-agent spool status | flush`. */
export const SPOOL_SPEC = {
  options: DISPATCH_HELP,
  subcommands: {
    status: { options: SPOOL_OPTIONS },
    flush: { options: SPOOL_OPTIONS },
  },
} as const satisfies CommandSpec;

/** `runlane-agent supervise --config <file>`. */
export const SUPERVISE_SPEC = {
  options: { config: { type: 'string' }, 'event-bus': { type: 'string' }, help: { type: 'boolean' } },
} as const satisfies CommandSpec;

const WORKER_STATUS_OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `runlane-agent worker [--once]` and `runlane-agent worker status` (no --once). */
export const WORKER_SPEC = {
  options: { ...WORKER_STATUS_OPTIONS, once: { type: 'boolean' } },
  runsWithoutSubcommand: true,
  subcommands: { status: { options: WORKER_STATUS_OPTIONS } },
} as const satisfies CommandSpec;

const CTL_OPTIONS = {
  socket: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  'timeout-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
const CTL_CHILD = { options: CTL_OPTIONS, positionals: { min: 1, max: 1 } } as const;
const CTL_STATE = { options: CTL_OPTIONS } as const;

/**
 * `runlane-agent ctl <command>`; `current-state` is `state` by its wire name. `add-child` has
 * every flag a ctl command parses (the others refuse `--spec` after parsing).
 */
export const CTL_SPEC = {
  options: DISPATCH_HELP,
  subcommands: {
    health: { options: CTL_OPTIONS },
    state: CTL_STATE,
    'current-state': CTL_STATE,
    'remove-child': CTL_CHILD,
    'add-child': { options: { ...CTL_OPTIONS, spec: { type: 'string' } } },
    'quarantine-child': CTL_CHILD,
    'release-child': CTL_CHILD,
    'restart-child': CTL_CHILD,
  },
} as const satisfies CommandSpec;

/**
 * The whole `runlane-agent` command line. `runlane-agent help` and `ctl help` print the help
 * too; they are left out here, as a runbook has no use for them.
 *
 * @example
 * parseCommandLine(RUNLANE_AGENT_CLI, ['run', '--command-type', 'build', '--environment', 'dev', '--', 'make']).passthrough; // ['make']
 */
export const RUNLANE_AGENT_CLI = {
  options: DISPATCH_HELP,
  subcommands: {
    run: RUN_SPEC,
    spool: SPOOL_SPEC,
    supervise: SUPERVISE_SPEC,
    worker: WORKER_SPEC,
    ctl: CTL_SPEC,
  },
} as const satisfies CommandSpec;

/**
 * Checks a `runlane-agent` command line without running anything (what the runbook checks call): throws,
 * naming the bad flag, subcommand or argument, when `runlane-agent` would refuse it.
 */
export function checkAgentCommandLine(argv: readonly string[]): void {
  parseCommandLine(RUNLANE_AGENT_CLI, argv);
}

/** Every command path of `runlane-agent`, group paths included (`['dlq']`, `['dlq', 'show']`). */
export function agentCommandPaths(): string[][] {
  const paths = new Set<string>();
  for (const path of commandPaths(RUNLANE_AGENT_CLI)) {
    for (let length = 1; length <= path.length; length++) paths.add(path.slice(0, length).join(' '));
  }
  return [...paths].map((path) => path.split(' '));
}
