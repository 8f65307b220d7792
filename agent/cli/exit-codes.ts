/**
 * Exit codes of the `runlane-agent` commands besides `run`'s (agent/runner/exit-codes.ts): what
 * the commands return and what the program's help says. Imports nothing heavy (the help needs it).
 */
import { EXIT_CODES } from '../runner/exit-codes.js';
import { PANIC_EXIT_CODE } from '../supervisor/panic.js';

/** `spool flush` left events in the spool: the bus stopped acknowledging. */
export const EXIT_SPOOL_NOT_EMPTY = 1;

/** Exit codes of `runlane-agent ctl`. */
export const CTL_EXIT_CODES = {
  ok: 0,
  /** `CommandResult::Rejected`, or no answer from the supervisor. */
  failed: 1,
  usage: EXIT_CODES.usage,
} as const;

/** An unexpected error of the worker (EX_SOFTWARE), as the supervisor's Panic. */
export const WORKER_EXIT_UNEXPECTED = PANIC_EXIT_CODE;
