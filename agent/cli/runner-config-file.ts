/**
 * Which runner config `run` and `spool` use: `--config <file>` (or RUNLANE_RUNNER_CONFIG, which
 * the host package's /usr/bin/runlane-agent sets to /etc/runlane-agent/runner.json when that file
 * exists), else the config/runner.json the agent was built with. The built-in one is imported, not
 * read from beside the module, so the bundle (dist/agent/runlane-agent.mjs) carries it wherever it
 * is copied.
 */
import shippedRunnerConfig from '../../config/runner.json' with { type: 'json' };
import { loadRunnerConfig, parseRunnerConfig, type RunnerConfig } from '../runner/config.js';

/** How a message names the built-in config. */
const BUILT_IN_SOURCE = 'config/runner.json (built in)';

/**
 * The runner config of `file`, or the built-in one; throws RunnerConfigError naming every problem.
 *
 * @example
 * const config = await loadRunnerConfigOption(options.config);
 */
export async function loadRunnerConfigOption(file: string | undefined): Promise<RunnerConfig> {
  return file === undefined
    ? parseRunnerConfig(shippedRunnerConfig, BUILT_IN_SOURCE)
    : loadRunnerConfig(file);
}
