/** The supervisor (seed 001): its config, its policies and how it starts. */
export { loadSupervisorConfig, parseChildSpec, parseSupervisorConfig } from './config.js';
export { SupervisorConfigError } from './errors.js';
export { createPanicHandler, formatPanic, installPanicHandlers, writeCrashReport } from './panic.js';
export { backoffDelay, RestartBudget } from './restart-budget.js';
export { startSupervisor } from './start.js';
export { classifyExit, formatTaskExit, panicText } from './task-exit.js';
