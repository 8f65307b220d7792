/**
 * What the runbook checks know of `runlane-agent`, read from its program (program.ts): whether a
 * command line parses, and which command paths exist. Nothing runs.
 */
import { Writable } from 'node:stream';
import {
  acceptPlaceholders,
  type CliOutput,
  checkCommandLine,
  namedCommandPaths,
} from '#common/cli-program.js';
import { createAgentProgram } from './program.js';

/**
 * Checks a `runlane-agent` command line without running anything: throws, naming the bad flag,
 * command or argument (commander's message), when `runlane-agent` would refuse it. A
 * `<placeholder>` stands for any value an option takes.
 *
 * @example
 * checkAgentCommandLine(['ctl', 'health', '--config', '/etc/runlane/supervisor.json']); // passes
 */
export function checkAgentCommandLine(argv: readonly string[]): void {
  checkCommandLine(checkingProgram, argv);
}

/**
 * Every command path of `runlane-agent`: those that run (`['run']`, `['worker']`, `['worker', 'status']`),
 * the groups above them (`['spool']`, `['ctl']`) and the aliases (`['ctl', 'current-state']`).
 */
export function agentCommandPaths(): string[][] {
  return namedCommandPaths(checkingProgram({ stdout: { write: () => true }, stderr: { write: () => true } }));
}

/** The program with nothing behind its actions (the checks replace them anyway), writing to `output`. */
function checkingProgram(output: CliOutput) {
  const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });
  return acceptPlaceholders(
    createAgentProgram({ env: {}, stdout: discard(), stderr: discard() }, undefined, output),
  );
}
