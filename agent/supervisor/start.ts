import { createAgentReporter } from '../reporter/setup.js';
import { resolveEventBus } from '../runner/config.js';
import type { SupervisorConfig } from './config.js';
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
 * starts (orphans terminated, children started). Rejects with `SupervisorPidFileInUseError`
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
  let reporter: SupervisorReporter | undefined = deps.reporter ?? undefined;
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
  }
  const supervisor = new Supervisor(config, { ...deps, reporter });
  try {
    await deps.beforeStart?.(supervisor);
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
