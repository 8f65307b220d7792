import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { isSubcommand } from '#common/command-line.js';
import { AGENT_DETAIL_TYPES } from '#contracts/agent-events.js';
import { AgentUsageError, CommandSpawnError, RunnerConfigError } from '../errors.js';
import { createAgentReporter } from '../reporter/setup.js';
import { type Clock, sleep, systemClock } from '../runner/clock.js';
import {
  DEFAULT_RUNNER_CONFIG_FILE,
  loadRunnerConfig,
  parsePositiveInt,
  resolveEventBus,
  resolveTimeouts,
  type TimeoutFlags,
} from '../runner/config.js';
import { EvidenceWriter, RunSummaryWriter } from '../runner/evidence.js';
import { EXIT_CODES } from '../runner/exit-codes.js';
import { type HostSampler, procHostSampler } from '../runner/host-signals.js';
import { MetricsServer, RunnerMetrics } from '../runner/metrics.js';
import { runCommand } from '../runner/run-command.js';
import type { Spawner } from '../runner/watchdog.js';
import { RUN_SPEC, RUNLANE_AGENT_CLI } from './cli-spec.js';
import { runCtlCli } from './ctl.js';
import { runSpoolCli } from './spool.js';
import { runSuperviseCli } from './supervise.js';
import { runWorkerCli } from './worker.js';

export const USAGE = `usage: runlane-agent run --command-type <type> --environment <env> [options] -- <command> [args...]
       runlane-agent spool status|flush [options]   (runlane-agent spool --help)
       runlane-agent supervise --config <file>        (runlane-agent supervise --help)
       runlane-agent worker [status] --config <file>  (runlane-agent worker --help)
       runlane-agent ctl health|state|remove-child|add-child|quarantine-child|release-child|restart-child
                                                    (runlane-agent ctl --help)

Runs <command> with an idle timeout (no stdout/stderr output) and a hard timeout.
On either, the whole process tree gets SIGTERM, then SIGKILL after the grace period;
the stall is classified (io_wait, network, child_hang, lock, cpu_starve), appended to
the evidence file and counted in the local metrics. Every run's summary is appended to
run-summaries.jsonl. The stall event and the run summary are sent to the environment's
EventBridge bus (SigV4, the SDK's default credentials); what the bus does not acknowledge
goes to the offline spool, replayed newest first in the background by later runs (or by
runlane-agent spool flush).

options:
  --command-type <type>     label for events and metrics (required)
  --environment <env>       an environment of the runner config, e.g. dev, staging, prod (required)
  --idle-ms <ms>            idle timeout; beats RUNNER_IDLE_MS, which beats the config
  --hard-ms <ms>            hard timeout; beats RUNNER_HARD_MS, which beats the config
  --kill-grace-ms <ms>      SIGTERM to SIGKILL grace period
  --config <file>           runner config (default: config/runner.json of the agent)
  --evidence-file <file>    stall events, JSON Lines (default: evidence/runner/stall-events.jsonl)
  --run-summary-file <file> run summaries, JSON Lines (default: run-summaries.jsonl next to the evidence file)
  --event-bus <name>        bus to report to; beats RUNLANE_EVENT_BUS, which beats the config
                            (default runlane-<environment>-telemetry)
  --spool-dir <dir>         offline spool folder (default: .runlane-agent/spool)
  --no-report               do not send events to the bus (evidence files only)
  --metrics-port <port>     Prometheus /metrics on 127.0.0.1 (default 4001; 0 = off)
  --metrics-linger-ms <ms>  keep serving /metrics this long after the command ended (default 0)
  --host <name>             host label (default: the host name)
  -h, --help                this text

exit: the command's own code; 124 idle timeout; 125 hard timeout; 126 cannot execute;
127 not found; 2 bad usage or config; 128+n when signal n ended the command (or the agent).
Reporting never changes the exit code. AWS_ENDPOINT_URL_EVENTBRIDGE points the agent at
another PutEvents endpoint (e.g. the local stack's, http://127.0.0.1:4010).`;

/** The commands other than `run`, one per subcommand of {@link RUNLANE_AGENT_CLI} (checked by the compiler). */
const DISPATCH = {
  spool: runSpoolCli,
  ctl: runCtlCli,
  supervise: runSuperviseCli,
  worker: runWorkerCli,
} satisfies Record<
  Exclude<keyof typeof RUNLANE_AGENT_CLI.subcommands, 'run'>,
  (argv: readonly string[], io: CliIo) => Promise<number>
>;

/** File name of the run summaries when only the evidence file is given. */
const RUN_SUMMARY_FILE_NAME = 'run-summaries.jsonl';

/** What the CLI talks to; the bin passes the process's, tests their own. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Pass stdin through to the command (not when it is a terminal: the command runs in the background group). */
  readonly stdin?: 'inherit' | 'ignore';
  readonly cwd?: string;
  /** Registers a handler for SIGTERM/SIGINT/SIGHUP to the agent; returns how to unregister it. */
  readonly onSignal?: (handler: (signal: NodeJS.Signals) => void) => () => void;
  readonly clock?: Clock;
  readonly spawner?: Spawner;
  readonly hostSampler?: HostSampler;
}

interface RunFlags {
  readonly commandType: string;
  readonly environment: string;
  readonly timeouts: TimeoutFlags;
  readonly config: string | URL;
  readonly evidenceFile: string | undefined;
  readonly runSummaryFile: string | undefined;
  readonly eventBus: string | undefined;
  readonly spoolDir: string | undefined;
  readonly report: boolean;
  readonly metricsPort: number | undefined;
  readonly metricsLingerMs: number;
  readonly host: string;
  readonly command: string;
  readonly args: readonly string[];
}

/**
 * `runlane-agent <argv…>`; resolves to the exit code, never throws.
 *
 * @example
 * process.exitCode = await runAgentCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
 */
export async function runAgentCli(argv: readonly string[], io: CliIo): Promise<number> {
  const log = (line: string): void => {
    io.stderr.write(`runlane-agent: ${line}\n`);
  };
  let flags: RunFlags;
  try {
    if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const [command] = argv;
    if (isSubcommand(RUNLANE_AGENT_CLI, command) && command !== 'run')
      return await DISPATCH[command](argv.slice(1), io);
    if (command === 'run' && wantsRunHelp(argv.slice(1))) {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    flags = parseRunFlags(argv);
  } catch (error) {
    if (!(error instanceof AgentUsageError)) throw error;
    log(error.message);
    io.stderr.write(`${USAGE}\n`);
    return EXIT_CODES.usage;
  }

  let timeouts: ReturnType<typeof resolveTimeouts>;
  let config: Awaited<ReturnType<typeof loadRunnerConfig>>;
  try {
    config = await loadRunnerConfig(flags.config);
    timeouts = resolveTimeouts(config, flags.environment, io.env, flags.timeouts);
  } catch (error) {
    if (!(error instanceof RunnerConfigError)) throw error;
    log(error.message);
    return EXIT_CODES.usage;
  }

  const labels = { environment: flags.environment, host: flags.host, commandType: flags.commandType };
  const metrics = new RunnerMetrics(labels);
  const metricsPort = flags.metricsPort ?? config.metricsPort;
  let server: MetricsServer | undefined;
  if (metricsPort !== 0) {
    try {
      server = await MetricsServer.listen(metrics.registry, metricsPort);
    } catch (error) {
      // The command matters more than its metrics: run it anyway.
      log(
        `metrics off: cannot listen on 127.0.0.1:${metricsPort} (${(error as NodeJS.ErrnoException).code})`,
      );
    }
  }

  const clock = io.clock ?? systemClock;
  const evidenceFile = flags.evidenceFile ?? config.evidenceFile;
  const runSummaryFile =
    flags.runSummaryFile ?? config.runSummaryFile ?? join(dirname(evidenceFile), RUN_SUMMARY_FILE_NAME);
  const reporting =
    config.reporting.enabled && flags.report
      ? createAgentReporter({
          settings: config.reporting,
          busName: resolveEventBus(config.reporting, flags.environment, io.env, flags.eventBus),
          spoolDirectory: flags.spoolDir ?? config.reporting.spoolDirectory,
          cwd: io.cwd,
          log,
          metrics,
        })
      : undefined;
  // Earlier runs' spooled events go out while this command runs.
  reporting?.reporter.start();
  const running = (() => {
    try {
      return runCommand(
        {
          command: flags.command,
          args: flags.args,
          labels,
          timeouts,
          rootCause: config.rootCause,
          stdout: io.stdout,
          stderr: io.stderr,
          stdin: io.stdin,
          cwd: io.cwd,
        },
        {
          hostSampler: io.hostSampler ?? procHostSampler(),
          evidence: new EvidenceWriter(evidenceFile),
          runSummaries: new RunSummaryWriter(runSummaryFile),
          metrics,
          log,
          clock,
          spawner: io.spawner,
        },
      );
    } catch (error) {
      return error as Error;
    }
  })();
  let exitCode: number;
  if (running instanceof Error) {
    exitCode = spawnFailure(running, log);
  } else {
    const unsubscribe = io.onSignal?.((signal) => running.abort(signal));
    try {
      const report = await running.report;
      exitCode = report.exitCode;
      await reporting?.reporter.report([
        ...(report.event === undefined
          ? []
          : [{ detailType: AGENT_DETAIL_TYPES.stall, detail: report.event }]),
        { detailType: AGENT_DETAIL_TYPES.runSummary, detail: report.summary },
      ]);
    } catch (error) {
      exitCode = spawnFailure(error as Error, log);
    } finally {
      unsubscribe?.();
    }
  }
  if (reporting !== undefined) {
    await reporting.reporter.close();
    reporting.client.destroy();
  }

  if (server !== undefined) {
    if (flags.metricsLingerMs > 0) {
      log(`metrics at http://127.0.0.1:${server.port}/metrics for ${flags.metricsLingerMs} ms`);
      await sleep(clock, flags.metricsLingerMs);
    }
    await server.close();
  }
  return exitCode;
}

function spawnFailure(error: Error, log: (line: string) => void): number {
  if (!(error instanceof CommandSpawnError)) throw error;
  log(error.message);
  return error.code === 'ENOENT' ? EXIT_CODES.notFound : EXIT_CODES.notExecutable;
}

/** `run … --help` (or `-h`) before the `--` of the command, if any: before anything runs. */
function wantsRunHelp(args: readonly string[]): boolean {
  const separator = args.indexOf('--');
  const options = separator < 0 ? args : args.slice(0, separator);
  return options.includes('--help') || options.includes('-h');
}

/** Parses `run [options] -- <command> [args…]`; throws {@link AgentUsageError}. */
export function parseRunFlags(argv: readonly string[]): RunFlags {
  const [subcommand, ...rest] = argv;
  if (subcommand !== 'run')
    throw new AgentUsageError(
      `unknown command ${subcommand ?? '(none)'}; expected run, supervise, spool or ctl`,
    );
  const separator = rest.indexOf('--');
  if (separator < 0 || separator === rest.length - 1) {
    throw new AgentUsageError('missing the command to run: put it after --');
  }
  const [command, ...args] = rest.slice(separator + 1) as [string, ...string[]];
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest.slice(0, separator),
      strict: true,
      allowPositionals: false,
      options: RUN_SPEC.options,
    }));
  } catch (error) {
    throw new AgentUsageError((error as Error).message, { cause: error });
  }
  const required = (name: string): string => {
    const value = values[name] as string | undefined;
    if (value === undefined || value === '') throw new AgentUsageError(`--${name} is required`);
    return value;
  };
  const int = (name: string, { zero }: { zero: boolean }): number | undefined => {
    const value = values[name] as string | undefined;
    if (value === undefined) return undefined;
    if (zero && value === '0') return 0;
    const parsed = parsePositiveInt(value);
    if (parsed === undefined) {
      throw new AgentUsageError(
        `--${name} must be a ${zero ? 'non-negative' : 'positive'} integer, got "${value}"`,
      );
    }
    return parsed;
  };
  const metricsPort = int('metrics-port', { zero: true });
  if (metricsPort !== undefined && metricsPort > 65_535)
    throw new AgentUsageError('--metrics-port must be at most 65535');
  return {
    commandType: required('command-type'),
    environment: required('environment'),
    timeouts: {
      idleMs: int('idle-ms', { zero: false }),
      hardMs: int('hard-ms', { zero: false }),
      killGraceMs: int('kill-grace-ms', { zero: true }),
    },
    config: (values.config as string | undefined) ?? DEFAULT_RUNNER_CONFIG_FILE,
    evidenceFile: values['evidence-file'] as string | undefined,
    runSummaryFile: values['run-summary-file'] as string | undefined,
    eventBus: nonEmpty(values['event-bus'] as string | undefined, '--event-bus'),
    spoolDir: nonEmpty(values['spool-dir'] as string | undefined, '--spool-dir'),
    report: values['no-report'] !== true,
    metricsPort,
    metricsLingerMs: int('metrics-linger-ms', { zero: true }) ?? 0,
    host: (values.host as string | undefined) ?? hostname(),
    command,
    args,
  };
}

function nonEmpty(value: string | undefined, flag: string): string | undefined {
  if (value === '') throw new AgentUsageError(`${flag} must not be empty`);
  return value;
}
