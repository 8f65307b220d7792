import { dirname, resolve } from 'node:path';
import { HostFileError } from '../errors.js';
import { createAgentReporter } from '../reporter/setup.js';
import { resolveEventBus } from '../runner/config.js';
import { privateFoldersRefusal } from '../runner/host-files.js';
import type { SupervisorConfig } from './config.js';
import { crashReportDirectoryOf } from './panic.js';
import { Supervisor, type SupervisorDeps, type SupervisorReporter } from './supervisor.js';

export interface StartSupervisorDeps extends Omit<SupervisorDeps, 'reporter'> {
  /**
   * `undefined`: an `AgentReporter` (EventBridge + offline spool) from `config.reporting` when it
   * is enabled, none when it is not; `null`: no reporting; else this reporter (tests).
   */
  readonly reporter?: SupervisorReporter | null;
  /** `--event-bus`, over RUNLANE_EVENT_BUS and `reporting.eventBus`. */
  readonly eventBusFlag?: string;
  /**
   * Runs with the handle before anything is touched (orphans, children): bind the control
   * socket here, so a second supervisor on the same `dashboard.path` fails first.
   */
  readonly beforeStart?: (supervisor: Supervisor) => Promise<void>;
}

export interface StartedSupervisor {
  /** The `SupervisorHandle` for the control socket. */
  readonly supervisor: Supervisor;
  /** SIGTERM: the three shutdown phases, then the reporter's background replay stopped. */
  shutdown(): Promise<void>;
}

/**
 * `runlane-agent supervise`: builds the reporter, the supervisor, runs `beforeStart`, then
 * starts (orphans terminated, children started). Rejects with `HostFileError` when the state,
 * crash-report or spool folder is not private (or the spool is another agent's), with `SupervisorPidFileInUseError`
 * (`field_path="pidFile"`) when another supervisor owns the pid file, and with whatever
 * `beforeStart` throws (e.g. `field_path="dashboard.path"`); nothing is left running then.
 *
 * @example
 * const config = await loadSupervisorConfig(path);
 * const { supervisor, shutdown } = await startSupervisor(config, {
 *   log: (line) => stderr.write(`${line}\n`),
 *   beforeStart: (handle) => new ControlServer({ path: config.dashboard.path, handle }).listen(),
 * });
 * process.once('SIGTERM', () => void shutdown().then(() => process.exit(0)));
 */
export async function startSupervisor(
  config: SupervisorConfig,
  deps: StartSupervisorDeps,
): Promise<StartedSupervisor> {
  const cwd = deps.cwd ?? process.cwd();
  // State and crash-report folders private to the agent's user (0700, its own), else nothing starts.
  const refusal = await privateFoldersRefusal(
    [dirname(resolve(cwd, config.pidFile)), crashReportDirectoryOf(config, cwd)],
    cwd,
  );
  if (refusal !== undefined) throw refusal;
  let reporter: SupervisorReporter | undefined = deps.reporter ?? undefined;
  let openSpool = async (): Promise<void> => {};
  let close = async (): Promise<void> => {};
  if (deps.reporter === undefined && config.reporting.enabled) {
    const created = createAgentReporter({
      settings: config.reporting,
      busName: resolveEventBus(
        config.reporting,
        config.environment,
        deps.env ?? process.env,
        deps.eventBusFlag,
      ),
      spoolDirectory: config.reporting.spoolDirectory,
      cwd: deps.cwd,
      log: deps.log,
    });
    created.reporter.start();
    reporter = created.reporter;
    close = async () => {
      await created.reporter.close();
      created.client.destroy();
    };
    openSpool = () => created.spool.open();
  }
  const supervisor = new Supervisor(config, { ...deps, reporter });
  try {
    await deps.beforeStart?.(supervisor);
    // The spool: private and this supervisor's alone (HostFileError / SpoolLockedError), else nothing starts.
    // After beforeStart: a second supervisor of the same config is refused by its control socket first.
    await openSpool().catch((error: unknown) => {
      if (error instanceof HostFileError) throw error;
    });
    await supervisor.start();
  } catch (error) {
    await close();
    throw error;
  }
  return {
    supervisor,
    shutdown: async () => {
      await supervisor.shutdown();
      await close();
    },
  };
}
