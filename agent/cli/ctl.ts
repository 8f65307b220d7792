import type { CtlIo } from './commands/ctl.js';
import { runAgentCli } from './main.js';

/**
 * `runlane-agent ctl <argv…>`; resolves to the exit code (see `CTL_EXIT_CODES`).
 *
 * @example
 * process.exitCode = await runCtlCli(['health', '--socket', '/run/runlane/supervisor.sock'], {
 *   env: process.env, stdout: process.stdout, stderr: process.stderr,
 * });
 */
export function runCtlCli(argv: readonly string[], io: CtlIo): Promise<number> {
  return runAgentCli(['ctl', ...argv], io);
}
