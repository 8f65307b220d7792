import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ControlServer } from '../control/control-server.js';
import { ControlSocketError } from '../control/errors.js';
import { EXIT_CODES } from '../runner/exit-codes.js';
import { loadSupervisorConfig } from '../supervisor/config.js';
import { SupervisorConfigError } from '../supervisor/errors.js';
import { installPanicHandlers, writeCrashReport } from '../supervisor/panic.js';
import { startSupervisor } from '../supervisor/start.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { SUPERVISE_SPEC } from './cli-spec.js';

export const SUPERVISE_USAGE = `usage: runlane-agent supervise --config <file> [--event-bus <name>]

Runs the children of <file> (see agent/supervisor/README.md, config/supervisor.example.json)
with restart policies, backoff, restart budgets (quarantine when exhausted) and optional
idle/hard watchdogs; serves health, current_state and control commands on the owner-only
Unix socket dashboard.path (runlane-agent ctl); reports health and child events to the
environment's bus with the offline spool behind it. Logs one line per event to stderr
(TaskExit::…, quarantined …, ShutdownPhase::Draining|Terminating|Completed, Panic: …).

The process is named processTitle (default "supervisor": pgrep -x supervisor). A panic writes
a crash report (Node diagnostic report, environment left out) to crashReportDirectory (default
the temporary directory) and names it in the Panic line.

SIGTERM / SIGINT: drain, terminate every child's process tree, exit 0.
exit: 0 after a shutdown; 2 bad usage or config (every error names its field_path, e.g. a
socket path in use: field_path="dashboard.path"); 70 Panic (an unexpected supervisor error).`;

interface SuperviseIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly cwd?: string;
  readonly onSignal?: (handler: (signal: NodeJS.Signals) => void) => () => void;
}

/** `runlane-agent supervise …`: resolves once the supervisor has shut down. */
export async function runSuperviseCli(argv: readonly string[], io: SuperviseIo): Promise<number> {
  const log = (line: string): void => {
    io.stderr.write(`${line}\n`);
  };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: SUPERVISE_SPEC.options,
    }));
  } catch (error) {
    log(`runlane-agent: ${(error as Error).message}\n${SUPERVISE_USAGE}`);
    return EXIT_CODES.usage;
  }
  if (values.help) {
    io.stdout.write(`${SUPERVISE_USAGE}\n`);
    return 0;
  }
  if (typeof values.config !== 'string' || values.config === '') {
    log(`runlane-agent: --config is required\n${SUPERVISE_USAGE}`);
    return EXIT_CODES.usage;
  }
  const cwd = io.cwd ?? process.cwd();
  let supervisor: Supervisor | undefined;
  let server: ControlServer | undefined;
  try {
    const config = await loadSupervisorConfig(resolve(cwd, values.config));
    process.title = config.processTitle; // `pgrep -x supervisor` (seed 001 P1-001 step 1)
    const crashReportDirectory = resolve(cwd, config.crashReportDirectory ?? tmpdir());
    installPanicHandlers({
      log,
      beforeExit: () => supervisor?.signalChildrenNow(),
      writeReport: (error) => writeCrashReport(crashReportDirectory, error),
    });
    const started = await startSupervisor(config, {
      log,
      cwd,
      env: io.env,
      eventBusFlag: values['event-bus'] as string | undefined,
      beforeStart: async (handle) => {
        server = new ControlServer({ path: resolve(cwd, config.dashboard.path), handle, log });
        await server.listen();
      },
    });
    supervisor = started.supervisor;
    await new Promise<void>((done) => {
      const unsubscribe = io.onSignal?.(() => {
        unsubscribe?.();
        done();
      });
    });
    await started.shutdown();
    await server?.close();
    return 0;
  } catch (error) {
    await server?.close();
    if (error instanceof SupervisorConfigError || error instanceof ControlSocketError) {
      log(`runlane-agent: ${error.message}`);
      return EXIT_CODES.usage;
    }
    throw error;
  }
}
