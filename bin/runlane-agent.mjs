#!/usr/bin/env node
// `runlane-agent …`: loads the TypeScript agent through tsx and wires it to this process.
import { register } from 'tsx/esm/api';

register();
const { exitQuietlyOnClosedPipe } = await import('#common/cli-program.ts');
const { runAgentCli } = await import('#agent/cli/main.ts');

// `runlane-agent ctl state | head -3` ends quietly when head closes the pipe.
exitQuietlyOnClosedPipe();
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'];
process.exitCode = await runAgentCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  // The command runs in its own process group; a terminal's stdin would stop it (SIGTTIN).
  stdin: process.stdin.isTTY ? 'ignore' : 'inherit',
  onSignal: (handler) => {
    for (const signal of SIGNALS) process.on(signal, handler);
    return () => {
      for (const signal of SIGNALS) process.off(signal, handler);
    };
  },
});
