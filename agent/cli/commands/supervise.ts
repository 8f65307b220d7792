/**
 * `runlane-agent supervise`: the supervisor and its control socket, until SIGTERM / SIGINT. The
 * options are defined (and parsed) by the program in ../program.ts; this module is loaded when
 * `supervise` runs.
 */
import { resolve } from 'node:path';
import { ControlServer } from '../../control/control-server.js';
import { ControlSocketError } from '../../control/errors.js';
import { HostFileError } from '../../errors.js';
import { EXIT_CODES } from '../../runner/exit-codes.js';
import { loadSupervisorConfig } from '../../supervisor/config.js';
import { SupervisorConfigError } from '../../supervisor/errors.js';
import { crashReportDirectoryOf, installPanicHandlers, writeCrashReport } from '../../supervisor/panic.js';
import { startSupervisor } from '../../supervisor/start.js';
import type { Supervisor } from '../../supervisor/supervisor.js';
import type { CliIo } from '../io.js';

/** The options of `supervise`, as the program parsed them. */
export interface SuperviseOptions {
  readonly config: string;
  readonly eventBus?: string | undefined;
}

/** Runs the supervisor; resolves to 0 once it has shut down after a signal, 2 on a bad config. */
export async function supervise(options: SuperviseOptions, io: CliIo): Promise<number> {
  const log = (line: string): void => {
    io.stderr.write(`${line}\n`);
  };
  const cwd = io.cwd ?? process.cwd();
  let supervisor: Supervisor | undefined;
  let server: ControlServer | undefined;
  try {
    const config = await loadSupervisorConfig(resolve(cwd, options.config));
    process.title = config.processTitle; // `pgrep -x supervisor` (seed 001 P1-001 step 1)
    const crashReportDirectory = crashReportDirectoryOf(config, cwd);
    installPanicHandlers({
      log,
      beforeExit: () => supervisor?.signalChildrenNow(),
      writeReport: (error) => writeCrashReport(crashReportDirectory, error),
    });
    const started = await startSupervisor(config, {
      log,
      cwd,
      env: io.env,
      eventBusFlag: options.eventBus,
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
    if (
      error instanceof SupervisorConfigError ||
      error instanceof ControlSocketError ||
      error instanceof HostFileError
    ) {
      log(`runlane-agent: ${error.message}`);
      return EXIT_CODES.usage;
    }
    throw error;
  }
}
