/**
 * `runlane-agent <argv…>`: runs the program of program.ts against the process (bin/runlane-agent.mjs)
 * or a test's streams.
 */
import { ExitCode, runProgram } from '#common/cli-program.js';
import type { CliIo } from './io.js';
import { createAgentProgram } from './program.js';

export type { CliIo } from './io.js';

/**
 * `runlane-agent <argv…>` (argv without node and the script); resolves to the exit code: the
 * command's, 0 after `--help` / `--version`, 2 for a command line the program refuses. Errors no
 * command expects propagate.
 *
 * @example
 * process.exitCode = await runAgentCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
 */
export async function runAgentCli(argv: readonly string[], io: CliIo): Promise<number> {
  const exit = new ExitCode();
  return runProgram(createAgentProgram(io, exit), exit, argv);
}
