/**
 * The agent as hosts run it (issue 18, packaging/README.md): the bundle of `npm run build:agent`
 * on Node 24, started the way the Debian package's /usr/bin/runlane-agent starts it (the node flags
 * and environment of packaging/launcher.json). The agent, supervisor and worker benchmarks measure
 * this, not the tsx bin of a clone.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import launcher from '../packaging/launcher.json' with { type: 'json' };

export const AGENT_BUNDLE = fileURLToPath(new URL('../dist/agent/runlane-agent.mjs', import.meta.url));

/** Builds the bundle of this tree (about a second), so the figures are its own. */
export function buildAgentBundle(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../packaging/build-agent.mjs', import.meta.url))], {
    stdio: 'ignore',
  });
}

export interface AgentLaunch {
  readonly command: string;
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
}

/**
 * `runlane-agent <args…>` as the package launches it: the launcher's node flags before the bundle,
 * its environment variables where `env` has none (named in RUNLANE_AGENT_LAUNCHER_ENV, which the
 * agent drops before running anything). `plain`: `node bundle <args…>`, nothing else.
 */
export function shippedAgent(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: { readonly plain?: boolean } = {},
): AgentLaunch {
  if (options.plain) return { command: process.execPath, args: [AGENT_BUNDLE, ...args], env };
  const set = Object.entries(launcher.env).filter(([name]) => env[name] === undefined);
  return {
    command: process.execPath,
    args: [...launcher.nodeArgs, AGENT_BUNDLE, ...args],
    env: {
      ...env,
      ...Object.fromEntries(set),
      RUNLANE_AGENT_LAUNCHER_ENV: set.map(([name]) => name).join(' '),
    },
  };
}
