/**
 * The `runlane-agent` program: every command, option, argument, environment variable fallback,
 * help text and exit code of the agent's command line, in one definition (STYLE principle 16).
 * main.ts runs it, command-line-check.ts checks the runbooks' command lines against it, and each command's
 * module (commands/*.ts) is loaded only when that command runs, so `--help` stays cheap.
 */
import { hostname } from 'node:os';
import { Command, type CommandUnknownOpts, Option, type OptionValues } from '@commander-js/extra-typings';
import {
  type CliOutput,
  checkRequiredOptions,
  configureProgram,
  ExitCode,
  group,
  required,
  usageError,
} from '#common/cli-program.js';
import packageJson from '../../package.json' with { type: 'json' };
import { CONTROL_SOCKET_FIELD_PATH } from '../control/errors.js';
import { AgentUsageError } from '../errors.js';
import { EVENT_BUS_ENV, RUNNER_ENV } from '../runner/env-names.js';
import { EXIT_CODES } from '../runner/exit-codes.js';
import { PANIC_EXIT_CODE } from '../supervisor/panic.js';
import type { CtlOptions, CtlRequest } from './commands/ctl.js';
import { CTL_EXIT_CODES, EXIT_SPOOL_NOT_EMPTY, WORKER_EXIT_UNEXPECTED } from './exit-codes.js';
import type { CliIo } from './io.js';
import { emptyIsUnset, nonEmpty, nonNegativeInt, port, positiveInt } from './parsers.js';

/**
 * The program, its actions bound to `io`; an action's result lands in `exit` (see
 * common/cli-program.ts `runProgram`). Commander writes help and errors to `output` (io's streams
 * unless told otherwise: checking a command line collects them).
 *
 * @example
 * const exit = new ExitCode();
 * await runProgram(createAgentProgram(io, exit), exit, ['spool', 'status', '--json']);
 */
export function createAgentProgram(io: CliIo, exit = new ExitCode(), output: CliOutput = io) {
  const program = unsetEmptyEnvironmentValues(
    checkRequiredOptions(configureProgram(new Command('runlane-agent'), output)),
  )
    // Before the subcommands, which inherit it: what follows `run` (and its `--`) is run's alone.
    .enablePositionalOptions()
    // `runlane-agent help [command]`, as `ctl help` and `spool help`.
    .helpCommand(true)
    .version(packageJson.version)
    .description(
      "Runlane's on-host agent: runs commands under a watchdog and reports their stalls (run, spool), " +
        "supervises long-running children (supervise, ctl) and executes the site's worker tasks (worker).",
    )
    .addHelpText(
      'after',
      `\nexit: each command's help lists its codes; ${EXIT_CODES.usage} is always a bad command line.`,
    );
  addRun(program, io, exit);
  addSpool(program, io, exit);
  addSupervise(program, io, exit);
  addWorker(program, io, exit);
  addCtl(program, io, exit);
  // After the commands, so only the program's own refusals (an unknown mode or flag) name them all.
  program.showHelpAfterError(
    `(modes: ${program.commands.map((command) => command.name()).join(', ')}; add --help for usage)`,
  );
  return program;
}

type Parent = CommandUnknownOpts;

/** `--event-bus`, after the environment variable RUNLANE_EVENT_BUS. */
const eventBusOption = () =>
  new Option('--event-bus <name>', "bus to report to; beats the config's reporting.eventBus")
    .env(EVENT_BUS_ENV)
    .argParser(emptyIsUnset(nonEmpty));

/** The runner config when --config is not given (the host package's launcher sets it). */
const RUNNER_CONFIG_ENV = 'RUNLANE_RUNNER_CONFIG';

const runnerConfigOption = () =>
  new Option('--config <file>', 'runner config (default: the config/runner.json built into the agent)')
    .env(RUNNER_CONFIG_ENV)
    .argParser(emptyIsUnset(nonEmpty));

function addRun(program: Parent, io: CliIo, exit: ExitCode): void {
  program
    .command('run')
    .summary('run a command under the idle and hard timeouts; report its stall and summary')
    .description(
      'Runs <command> with an idle timeout (no stdout/stderr output) and a hard timeout. On either, the whole ' +
        'process tree gets SIGTERM, then SIGKILL after the grace period; the stall is classified (io_wait, ' +
        'network, child_hang, lock, cpu_starve), appended to the evidence file and counted in the local metrics. ' +
        "Every run's summary is appended to run-summaries.jsonl. The stall event and the run summary are sent to " +
        "the environment's EventBridge bus (SigV4, the SDK's default credentials); what the bus does not " +
        'acknowledge goes to the offline spool, replayed newest first in the background by later runs (or by ' +
        'runlane-agent spool flush).',
    )
    .argument('<command...>', 'the command and its arguments, after --')
    // Everything from the command on is the command's, its flags included.
    .passThroughOptions()
    .addOption(
      required(new Option('--command-type <type>', 'label for events and metrics').argParser(nonEmpty)),
    )
    .addOption(
      required(
        new Option(
          '--environment <env>',
          'an environment of the runner config, e.g. dev, staging, prod',
        ).argParser(nonEmpty),
      ),
    )
    .addOption(
      new Option('--idle-ms <ms>', 'idle timeout; beats the config')
        .env(RUNNER_ENV.idleMs)
        .argParser(emptyIsUnset(positiveInt)),
    )
    .addOption(
      new Option('--hard-ms <ms>', 'hard timeout; beats the config')
        .env(RUNNER_ENV.hardMs)
        .argParser(emptyIsUnset(positiveInt)),
    )
    .addOption(
      new Option('--kill-grace-ms <ms>', 'SIGTERM to SIGKILL grace period').argParser(nonNegativeInt),
    )
    .addOption(runnerConfigOption())
    .option(
      '--evidence-file <file>',
      'stall events, JSON Lines (default: evidence/runner/stall-events.jsonl)',
    )
    .option(
      '--run-summary-file <file>',
      'run summaries, JSON Lines (default: run-summaries.jsonl next to the evidence file)',
    )
    .addOption(eventBusOption())
    .addOption(
      new Option('--spool-dir <dir>', 'offline spool folder (default: .runlane-agent/spool)').argParser(
        nonEmpty,
      ),
    )
    .option('--no-report', 'do not send events to the bus (evidence files only)')
    .addOption(
      new Option(
        '--metrics-port <port>',
        'Prometheus /metrics on 127.0.0.1 (default 4001; 0 = off)',
      ).argParser(port),
    )
    .addOption(
      new Option('--metrics-linger-ms <ms>', 'keep serving /metrics this long after the command ended')
        .argParser(nonNegativeInt)
        .default(0),
    )
    .addOption(new Option('--host <name>', 'host label').default(hostname(), 'the host name'))
    .addHelpText(
      'after',
      `
exit: the command's own code; ${EXIT_CODES.idleTimeout} idle timeout; ${EXIT_CODES.hardTimeout} hard timeout; ${EXIT_CODES.notExecutable} cannot execute;
${EXIT_CODES.notFound} not found; ${EXIT_CODES.usage} bad usage or config; 128+n when signal n ended the command (or the agent).
Reporting never changes the exit code. AWS_ENDPOINT_URL_EVENTBRIDGE points the agent at
another PutEvents endpoint (e.g. the local stack's, http://127.0.0.1:4010).`,
    )
    .action(
      exit.of(async (command, options) =>
        (await import('./commands/run.js')).runUnderWatchdog(command, options, io),
      ),
    );
}

function addSpool(program: Parent, io: CliIo, exit: ExitCode): void {
  const spool = group(
    program,
    'spool',
    'what waits in the offline spool of `runlane-agent run`, and replaying it',
  ).addHelpText(
    'after',
    `\nexit: 0 done (flush: spool empty); ${EXIT_SPOOL_NOT_EMPTY} flush left events in the spool; ${EXIT_CODES.usage} bad usage or config.`,
  ) as Parent;
  const spoolOptions = <A extends unknown[], O extends OptionValues, G extends OptionValues>(
    command: Command<A, O, G>,
  ) =>
    command
      .addOption(runnerConfigOption())
      .addOption(
        new Option(
          '--spool-dir <dir>',
          "the spool (default: the config's reporting.spoolDirectory)",
        ).argParser(nonEmpty),
      )
      .option('--json', 'print the result as JSON');
  spoolOptions(
    spool
      .command('status')
      .description(
        'what waits in the offline spool: events by payload type, size, oldest and newest, files quarantined for ' +
          'a failed checksum',
      ),
  )
    // Accepted as flush takes them, and unused: a status line can be a flush line with another verb.
    .addOption(new Option('--environment <env>', 'unused by status').argParser(nonEmpty))
    .addOption(new Option('--event-bus <name>', 'unused by status'))
    .action(exit.of(async (options) => (await import('./commands/spool.js')).spoolStatus(options, io)));
  spoolOptions(
    spool
      .command('flush')
      .description(
        "replay the spool to the environment's bus now, newest first, until it is empty or the bus stops " +
          'acknowledging; a spooled event is deleted only once the bus gave it an event id (every runlane-agent ' +
          'run also replays in the background)',
      ),
  )
    .addOption(
      required(
        new Option('--environment <env>', 'the environment whose bus to replay to').argParser(nonEmpty),
      ),
    )
    .addOption(eventBusOption())
    .action(exit.of(async (options) => (await import('./commands/spool.js')).spoolFlush(options, io)));
}

function addSupervise(program: Parent, io: CliIo, exit: ExitCode): void {
  program
    .command('supervise')
    .summary('run and restart the children of a supervisor config; serve its control socket')
    .description(
      'Runs the children of the config (see agent/supervisor/README.md, config/supervisor.example.json) with ' +
        'restart policies, backoff, restart budgets (quarantine when exhausted) and optional idle/hard watchdogs; ' +
        'serves health, current_state and control commands on the owner-only Unix socket dashboard.path ' +
        "(runlane-agent ctl); reports health and child events to the environment's bus with the offline spool " +
        'behind it. Logs one line per event to stderr (TaskExit::…, quarantined …, ' +
        'ShutdownPhase::Draining|Terminating|Completed, Panic: …). The process is named processTitle (default ' +
        '"supervisor": pgrep -x supervisor). A panic writes a crash report (Node diagnostic report, environment ' +
        'left out, 0600) to crashReportDirectory (default the pid file’s folder, the state folder) and names it in the Panic line.',
    )
    .addOption(required(new Option('--config <file>', 'the supervisor config').argParser(nonEmpty)))
    .addOption(eventBusOption())
    .addHelpText(
      'after',
      `
SIGTERM / SIGINT: drain, terminate every child's process tree, exit 0.
exit: 0 after a shutdown; ${EXIT_CODES.usage} bad usage or config (every error names its field_path, e.g. a
socket path in use: field_path="dashboard.path"); ${PANIC_EXIT_CODE} Panic (an unexpected supervisor error).`,
    )
    .action(exit.of(async (options) => (await import('./commands/supervise.js')).supervise(options, io)));
}

function addWorker(program: Parent, io: CliIo, exit: ExitCode): void {
  const workerConfig = () => required(new Option('--config <file>', 'the worker config').argParser(nonEmpty));
  const worker = program
    .command('worker')
    .summary("execute the site's worker tasks (worker status: its result spool)")
    .description(
      "Seed 004's worker, host side. Long-polls the site's task lane (taskQueueUrl, the queue " +
        'runlane-<env>-worker-tasks-<site>), claims each task through the control plane ' +
        "(POST <apiUrl>/api/workers/sites/<site>/tasks/<taskId>/claim, SigV4 with the SDK's default credentials: the site's role runlane-<env>-worker-<site> with session name = workerId; exactly one " +
        'worker wins), executes it within what this host allows (collect_facts; execute_script: only a script of ' +
        "the config's allowlist, arguments within its pattern, under its timeout, output capped; execute_action: " +
        'only an enabled built-in plugin), and hands the result envelopes to the control plane (transport api: ' +
        'POST <apiUrl>/api/workers/sites/<site>/results; transport bus: PutEvents WorkerResult). What is not acknowledged ' +
        'waits in the offline spool as <payload_type>-<timestamp>-<task_id>.json, replayed newest first and ' +
        'deleted only after a 2xx; a refused envelope (4xx, or a payload_type other than facts, logs, ' +
        'execution_result, health) is kept in <spool>/refused/. The task message is deleted once its result is ' +
        'acknowledged or spooled. A registration at start, then a heartbeat every heartbeatIntervalMs ' +
        '(capabilities, offline backlog, tasks executing). See config/worker.example.json.',
    )
    .addOption(workerConfig())
    .option('--once', 'one receive round (its tasks handled, results handed over), then exit')
    .option('--json', 'log lines (stderr) and the --once summary (stdout) as JSON')
    .addHelpText(
      'after',
      `
Environment: WORKER_DEFAULT_ID (default workerId), WORKER_SITE_NAME (default site),
RUNLANE_WORKER_QUEUE_URL (overrides taskQueueUrl), RUNLANE_API_URL (overrides apiUrl),
AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL_EVENTBRIDGE (other endpoints, e.g. emulators).

Logs one line per event to stderr (task_claimed, script_executed … sha256=…, result_delivered,
result_spooled, result_refused, message_deleted, heartbeat_failed …) with task_id, command_id
and correlation_id. SIGTERM / SIGINT: stop polling, let the task in hand finish (its tree is
killed after shutdownGraceMs; a second signal kills it at once), hand its result over, send
one deregistration (the control plane then shows it stopped, not offline), exit 0.
exit: 0 stopped; ${EXIT_CODES.usage} bad usage or config (every error names its field_path); ${WORKER_EXIT_UNEXPECTED} unexpected error.`,
    )
    .action(exit.of(async (options) => (await import('./commands/worker.js')).runWorker(options, io)));
  worker
    .command('status')
    .description(
      "what waits in the worker's result spool: envelopes by payload type, refused and quarantined files",
    )
    .addOption(workerConfig())
    .option('--json', 'print the status as JSON')
    .action(exit.of(async (options) => (await import('./commands/worker.js')).workerStatus(options, io)));
}

/** Give up on the supervisor's answer after this long, unless `--timeout-ms` says otherwise. */
const CTL_TIMEOUT_MS = 5_000;

const CTL_EXIT_HELP = `
exit: ${CTL_EXIT_CODES.ok} answered / CommandResult::Accepted (health: also when the status is degraded);
      ${CTL_EXIT_CODES.failed} CommandResult::Rejected (the reason is printed) or the supervisor cannot be reached;
      ${CTL_EXIT_CODES.usage} bad usage (also when the supervisor refuses the request's shape).`;

function addCtl(program: Parent, io: CliIo, exit: ExitCode): void {
  const ctl = group(
    program,
    'ctl',
    'talk to a running `runlane-agent supervise` over its control socket (owner-only Unix socket, ' +
      'newline-delimited JSON)',
  ).addHelpText('after', CTL_EXIT_HELP) as Parent;
  /** A ctl command with the options they all take. */
  const ctlCommand = (name: string, description: string) =>
    ctl
      .command(name)
      .description(description)
      .addOption(
        new Option('--socket <path>', "the supervisor's control socket (beats --config)").argParser(nonEmpty),
      )
      .addOption(
        new Option(
          '--config <file>',
          `the supervisor config; its ${CONTROL_SOCKET_FIELD_PATH} is the socket`,
        ).argParser(nonEmpty),
      )
      .option('--json', "print the supervisor's JSON answer as it is")
      .addOption(
        new Option('--timeout-ms <ms>', 'give up after this long')
          .argParser(positiveInt)
          .default(CTL_TIMEOUT_MS),
      )
      .addHelpText('after', CTL_EXIT_HELP);
  const send = (request: CtlRequest, options: CtlOptions, command: CommandUnknownOpts) =>
    refusingUsage(command, async () =>
      (await import('./commands/ctl.js')).sendCtlRequest(request, options, io),
    );
  ctlCommand(
    'health',
    'status, uptime_secs, control_loop_iterations, dashboard_link and the children counts (running, failed, ' +
      'quarantined, target_count)',
  ).action(exit.of((options, command) => send({ command: 'health' }, options, command)));
  ctlCommand(
    'state',
    'current_state: the counts, then one row per child: name, pid, state, restart_count, last exit ' +
      '(TaskExit::<kind>) and restart budget tokens left / capacity',
  )
    .alias('current-state')
    .action(exit.of((options, command) => send({ command: 'current-state' }, options, command)));
  ctlCommand('remove-child', 'stop the child and drop its slot (target_count goes down by one)')
    .argument('<name>', 'the child, by its name in the config', nonEmpty)
    .action(exit.of((name, options, command) => send({ command: 'remove-child', name }, options, command)));
  ctlCommand(
    'add-child',
    'start a new child from one child entry of the supervisor config (inline JSON, or @file)',
  )
    .addOption(required(new Option('--spec <json|@file>', 'the child entry: inline JSON, or @file')))
    .action(
      exit.of((options, command) => send({ command: 'add-child', spec: options.spec }, options, command)),
    );
  ctlCommand('quarantine-child', 'stop the child and mark it Quarantined: it is not restarted until released')
    .argument('<name>', 'the child, by its name in the config', nonEmpty)
    .action(
      exit.of((name, options, command) => send({ command: 'quarantine-child', name }, options, command)),
    );
  ctlCommand('release-child', 'lift the quarantine of a child so the supervisor starts it again')
    .argument('<name>', 'the child, by its name in the config', nonEmpty)
    .action(exit.of((name, options, command) => send({ command: 'release-child', name }, options, command)));
  ctlCommand('restart-child', 'stop the child and start it again')
    .argument('<name>', 'the child, by its name in the config', nonEmpty)
    .action(exit.of((name, options, command) => send({ command: 'restart-child', name }, options, command)));
}

/**
 * Before any action: an option whose environment variable is set but empty (`RUNNER_IDLE_MS=`)
 * is unset, as the shell means it; an empty value on the command line (`--idle-ms ''`) is refused.
 * (Commander hands the empty value to the option's parser, see parsers.ts `emptyIsUnset`.)
 */
function unsetEmptyEnvironmentValues<C extends Parent>(program: C): C {
  program.hook('preAction', (_program, command) => {
    for (const option of command.options) {
      const key = option.attributeName();
      if (option.envVar === undefined || command.getOptionValue(key) !== '') continue;
      if (command.getOptionValueSource(key) !== 'env')
        usageError(command, `option '${option.flags}' argument '' is invalid. Must not be empty.`);
      command.setOptionValueWithSource(key, undefined, 'default');
    }
  });
  return program;
}

/** Runs an action; an {@link AgentUsageError} it throws is refused as a usage error of `command`. */
async function refusingUsage(command: CommandUnknownOpts, action: () => Promise<number>): Promise<number> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof AgentUsageError) usageError(command, error.message);
    throw error;
  }
}
