/**
 * `runlane-agent` as a process: the program of main.ts wired to this process's streams, signals
 * and exit code. The bin (bin/runlane-agent.mjs, TypeScript through tsx) and the shipped bundle
 * (`npm run build:agent`, dist/agent/runlane-agent.mjs) both start here.
 */
import { isatty } from 'node:tty';
import { exitQuietlyOnClosedPipe } from '#common/cli-program.js';
import { runAgentCli } from './main.js';

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * Runs `runlane-agent <process.argv…>` and sets `process.exitCode` to its result.
 *
 * @example
 * await runAgentProcess();
 */
export async function runAgentProcess(): Promise<void> {
  dropLauncherEnvironment(process.env);
  // `runlane-agent ctl state | head -3` ends quietly when head closes the pipe.
  exitQuietlyOnClosedPipe();
  process.exitCode = await runAgentCli(process.argv.slice(2), {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    // The command runs in its own process group; a terminal's stdin would stop it (SIGTTIN).
    // isatty(0), not process.stdin.isTTY: the agent never reads stdin, so it makes no stream of it.
    stdin: isatty(0) ? 'ignore' : 'inherit',
    onSignal: (handler) => {
      for (const signal of SIGNALS) process.on(signal, handler);
      return () => {
        for (const signal of SIGNALS) process.off(signal, handler);
      };
    },
  });
}

/**
 * The host package's launcher (/usr/bin/runlane-agent, packaging/launcher.json) sets a few
 * variables for this process alone (glibc's malloc settings, read at start) and names them in
 * RUNLANE_AGENT_LAUNCHER_ENV: they are dropped here, so no command the agent runs inherits them.
 * Only glibc's MALLOC_* names are ever dropped, whatever the list says.
 */
function dropLauncherEnvironment(env: NodeJS.ProcessEnv): void {
  const names = env.RUNLANE_AGENT_LAUNCHER_ENV;
  delete env.RUNLANE_AGENT_LAUNCHER_ENV;
  for (const name of names?.split(/\s+/) ?? []) if (/^MALLOC_[A-Z_]+$/.test(name)) delete env[name];
}
