import { constants } from 'node:os';

/**
 * Exit codes of `runlane-agent run`. Otherwise the command's own exit code, or
 * 128 + signal number when a signal the agent did not send ended it.
 */
export const EXIT_CODES = {
  /** Bad flags or runner configuration. */
  usage: 2,
  /** The idle timeout fired: no output for `idleMs`. Same as GNU `timeout`. */
  idleTimeout: 124,
  /** The hard timeout fired: still running after `hardMs`. */
  hardTimeout: 125,
  /** The command exists but cannot be executed. */
  notExecutable: 126,
  /** The command was not found. */
  notFound: 127,
} as const;

/** 128 + the signal's number, as shells report a signal death. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
