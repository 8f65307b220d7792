/**
 * `runlane-agent ctl` on its own: what agent/control/index.ts offers of the control socket's
 * command line. The commands are the program's (program.ts), carried out by commands/ctl.ts.
 */
import { Writable } from 'node:stream';
import { commandAt } from '#common/cli-program.js';
import type { CtlIo } from './commands/ctl.js';
import { runAgentCli } from './main.js';
import { createAgentProgram } from './program.js';

export type { CtlIo } from './commands/ctl.js';
export { CTL_EXIT_CODES } from './exit-codes.js';

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

/** The help of `runlane-agent ctl`, as `runlane-agent ctl --help` prints it. */
export const CTL_USAGE: string = (() => {
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  return commandAt(createAgentProgram({ env: {}, stdout: discard, stderr: discard }), [
    'ctl',
  ]).helpInformation();
})();
