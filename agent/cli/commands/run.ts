/**
 * `runlane-agent run`: the command under the watchdog, its evidence, metrics and reports. The
 * options are defined (and parsed) by the program in ../program.ts; this module is loaded when
 * `run` runs.
 */
import { dirname, join } from 'node:path';
import { AGENT_DETAIL_TYPES } from '#contracts/agent-event-names.js';
import { CommandSpawnError, HostFileError, RunnerConfigError } from '../../errors.js';
import { createAgentReporter } from '../../reporter/setup.js';
import { sleep, systemClock } from '../../runner/clock.js';
import {
  type RunnerConfig,
  resolveEventBus,
  resolveTimeouts,
  type WatchdogTimeouts,
} from '../../runner/config.js';
import { EvidenceWriter, RunSummaryWriter } from '../../runner/evidence.js';
import { EXIT_CODES } from '../../runner/exit-codes.js';
import { privateFoldersRefusal } from '../../runner/host-files.js';
import { procHostSampler } from '../../runner/host-signals.js';
import type { MetricsServer, RunnerMetrics } from '../../runner/metrics.js';
import { runCommand } from '../../runner/run-command.js';
import type { CliIo } from '../io.js';
import { loadRunnerConfigOption } from '../runner-config-file.js';

/** File name of the run summaries when only the evidence file is given. */
const RUN_SUMMARY_FILE_NAME = 'run-summaries.jsonl';

/** The options of `run`, as the program parsed them. */
export interface RunOptions {
  readonly commandType: string;
  readonly environment: string;
  readonly idleMs?: number | undefined;
  readonly hardMs?: number | undefined;
  readonly killGraceMs?: number | undefined;
  readonly config?: string | undefined;
  readonly evidenceFile?: string | undefined;
  readonly runSummaryFile?: string | undefined;
  readonly eventBus?: string | undefined;
  readonly spoolDir?: string | undefined;
  readonly report: boolean;
  readonly metricsPort?: number | undefined;
  readonly metricsLingerMs: number;
  readonly host: string;
}

type Log = (line: string) => void;

/**
 * Runs `command` (the command line after `--`) under the watchdog; resolves to the exit code.
 *
 * @example
 * await runUnderWatchdog(['make', '-j4'], { commandType: 'build', environment: 'dev', report: true, metricsLingerMs: 0, host: 'ci-1' }, io);
 */
export async function runUnderWatchdog(
  command: readonly string[],
  options: RunOptions,
  io: CliIo,
): Promise<number> {
  const log: Log = (line) => {
    io.stderr.write(`runlane-agent: ${line}\n`);
  };
  let settings: { config: RunnerConfig; timeouts: WatchdogTimeouts };
  try {
    const config = await loadRunnerConfigOption(options.config);
    const timeouts = resolveTimeouts(config, options.environment, io.env, {
      idleMs: options.idleMs,
      hardMs: options.hardMs,
      killGraceMs: options.killGraceMs,
    });
    settings = { config, timeouts };
  } catch (error) {
    if (!(error instanceof RunnerConfigError)) throw error;
    log(error.message);
    return EXIT_CODES.usage;
  }
  const { config } = settings;
  const evidenceFile = options.evidenceFile ?? config.evidenceFile;
  const runSummaryFile =
    options.runSummaryFile ?? config.runSummaryFile ?? join(dirname(evidenceFile), RUN_SUMMARY_FILE_NAME);
  // Evidence folders private to the agent's user (0700), else nothing runs (issue 18).
  const refusal = await privateFoldersRefusal(
    [dirname(evidenceFile), dirname(runSummaryFile)],
    io.cwd ?? process.cwd(),
  );
  if (refusal !== undefined) {
    log(refusal.message);
    return EXIT_CODES.usage;
  }
  const labels = { environment: options.environment, host: options.host, commandType: options.commandType };
  const metricsPort = options.metricsPort ?? config.metricsPort;
  // prom-client is loaded only for an endpoint (port 0: nothing would ever read the metrics).
  const metrics =
    metricsPort === 0 ? undefined : new (await import('../../runner/metrics.js')).RunnerMetrics(labels);
  const server = metrics === undefined ? undefined : await listenForMetrics(metrics, metricsPort, log);
  const reporting = startReporting(config, options, io, { log, metrics });
  // The spool: private, and this agent's alone (HostFileError / SpoolLockedError), else nothing runs.
  const spoolRefusal = await reporting?.spool.open().then(
    () => undefined,
    (error: unknown) => (error instanceof HostFileError ? error : undefined),
  );
  if (spoolRefusal !== undefined) {
    log(spoolRefusal.message);
    await reporting?.reporter.close();
    reporting?.client.destroy();
    await server?.close();
    return EXIT_CODES.usage;
  }

  const [file, ...args] = command as [string, ...string[]];
  let exitCode: number;
  try {
    const running = runCommand(
      {
        command: file,
        args,
        labels,
        timeouts: settings.timeouts,
        rootCause: config.rootCause,
        stdout: io.stdout,
        stderr: io.stderr,
        stdin: io.stdin,
        cwd: io.cwd,
        keepOrphans: config.keepOrphans,
      },
      {
        hostSampler: io.hostSampler ?? procHostSampler(),
        evidence: new EvidenceWriter(evidenceFile),
        runSummaries: new RunSummaryWriter(runSummaryFile),
        metrics,
        log,
        clock: io.clock ?? systemClock,
        spawner: io.spawner,
      },
    );
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
    } finally {
      unsubscribe?.();
    }
  } catch (error) {
    exitCode = spawnFailure(error as Error, log);
  }
  if (reporting !== undefined) {
    await reporting.reporter.close();
    reporting.client.destroy();
  }
  await lingerAndClose(server, options.metricsLingerMs, io, log);
  return exitCode;
}

/** The metrics endpoint (a port other than 0); a port in use only turns the metrics off. */
async function listenForMetrics(
  metrics: RunnerMetrics,
  port: number,
  log: Log,
): Promise<MetricsServer | undefined> {
  const { MetricsServer } = await import('../../runner/metrics.js');
  try {
    return await MetricsServer.listen(metrics.registry, port);
  } catch (error) {
    // The command matters more than its metrics: run it anyway.
    log(`metrics off: cannot listen on 127.0.0.1:${port} (${(error as NodeJS.ErrnoException).code})`);
    return undefined;
  }
}

/** The reporter of this run (started: earlier runs' spooled events go out while the command runs), unless reporting is off. */
function startReporting(
  config: RunnerConfig,
  options: RunOptions,
  io: CliIo,
  deps: { readonly log: Log; readonly metrics: RunnerMetrics | undefined },
): ReturnType<typeof createAgentReporter> | undefined {
  if (!config.reporting.enabled || !options.report) return undefined;
  const reporting = createAgentReporter({
    settings: config.reporting,
    busName: resolveEventBus(config.reporting, options.environment, io.env, options.eventBus),
    spoolDirectory: options.spoolDir ?? config.reporting.spoolDirectory,
    cwd: io.cwd,
    ...deps,
  });
  reporting.reporter.start();
  return reporting;
}

async function lingerAndClose(
  server: MetricsServer | undefined,
  lingerMs: number,
  io: CliIo,
  log: Log,
): Promise<void> {
  if (server === undefined) return;
  if (lingerMs > 0) {
    log(`metrics at http://127.0.0.1:${server.port}/metrics for ${lingerMs} ms`);
    await sleep(io.clock ?? systemClock, lingerMs);
  }
  await server.close();
}

function spawnFailure(error: Error, log: Log): number {
  if (!(error instanceof CommandSpawnError)) throw error;
  log(error.message);
  return error.code === 'ENOENT' ? EXIT_CODES.notFound : EXIT_CODES.notExecutable;
}
