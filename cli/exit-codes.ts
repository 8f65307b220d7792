import { EXIT_USAGE } from '#common/cli-program.js';

/**
 * The exit codes of `runlane`. Each command declares what 0 and 1 (and 4 where it has it) mean
 * for it in its definition (cli/help.ts `exitCodes`); `runlane --help` shows the table below with
 * the commands that use a code not every command uses.
 */

/** Success; for a check (report daily, supervisors health, …), nothing found that fails it. */
const EXIT_OK = 0;
/** A failure, or what a check looks for was found. */
export const EXIT_FAILURE = 1;
export { EXIT_USAGE };
/** The API answered with an error status, 4xx or 5xx (api). */
export const EXIT_HTTP_ERROR = 3;
/** What the command looks up does not exist (trace, dlq show). */
export const EXIT_NOT_FOUND = 4;

/** What each code means across the commands, for the table of `runlane --help`. */
export const EXIT_CODE_MEANINGS: Readonly<Record<number, string>> = {
  [EXIT_OK]: 'success',
  [EXIT_FAILURE]: 'failure, or a check found what it looks for (a silent host, a failed criterion, …)',
  [EXIT_USAGE]: 'bad usage: an unknown command or option, a missing or invalid value',
  [EXIT_HTTP_ERROR]: 'the API answered 4xx or 5xx',
  [EXIT_NOT_FOUND]: 'nothing found',
};
