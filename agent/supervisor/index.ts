export {
  type ChildSpec,
  childSpecSchema,
  loadSupervisorConfig,
  parseChildSpec,
  parseSupervisorConfig,
  RESTART_POLICIES,
  type SupervisorConfig,
  supervisorConfigSchema,
} from './config.js';
export { SupervisorConfigError, SupervisorPidFileInUseError } from './errors.js';
export type * from './handle.js';
export { CHILD_STATES } from './handle.js';
export {
  createPanicHandler,
  formatPanic,
  installPanicHandlers,
  PANIC_EXIT_CODE,
  writeCrashReport,
} from './panic.js';
export { PidFile, processStartTime } from './pid-file.js';
export { backoffDelay, RestartBudget } from './restart-budget.js';
export { type StartedSupervisor, type StartSupervisorDeps, startSupervisor } from './start.js';
export { Supervisor, type SupervisorDeps, type SupervisorReporter } from './supervisor.js';
export { CRASH_SIGNALS, classifyExit, formatTaskExit, panicText } from './task-exit.js';
