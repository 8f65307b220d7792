import { readFile } from 'node:fs/promises';
import { type ConfigIssue, configIssues } from '#common/config-issues.js';
import {
  checkWorkerConfigFile,
  type ResolvedWorkerConfigFile,
  WorkerConfigError,
  type WorkerConfigFile,
} from '#common/worker-config.js';
import { HostFileError } from '../errors.js';
import { checkConfigFile } from '../runner/host-files.js';
import { BUILTIN_PLUGINS, type WorkerPlugin } from './plugins.js';

/**
 * `runlane-agent worker --config <file>` (seed 004, host side). The file's schema and the
 * resolution of its fields against the environment are common/worker-config.ts (shared with
 * `runlane workers config`, which writes such a file); the agent adds its built-in plugins.
 */

export type { ScriptSpec } from '#common/worker-config.js';

/** The resolved config: the file, the environment's defaults and overrides, the enabled plugins. */
export interface WorkerConfig extends ResolvedWorkerConfigFile {
  /** Enabled plugins with their parsed options. */
  readonly enabledPlugins: ReadonlyMap<string, { readonly plugin: WorkerPlugin; readonly options: unknown }>;
}

/**
 * Validates a parsed worker config and resolves it against the environment
 * (`WORKER_DEFAULT_ID`, `WORKER_SITE_NAME`, `RUNLANE_WORKER_QUEUE_URL`, `RUNLANE_API_URL`).
 * Throws one {@link WorkerConfigError} listing every problem.
 *
 * @example
 * parseWorkerConfig({ environment: 'prod', site: 'lab', apiUrl, taskQueueUrl }, 'worker.json', {}).workerId; // the host name
 */
export function parseWorkerConfig(
  raw: unknown,
  source: string,
  env: Readonly<Record<string, string | undefined>>,
  defaultWorkerId?: string,
): WorkerConfig {
  const { file, resolved, issues: fieldIssues } = checkWorkerConfigFile(raw, source, env, defaultWorkerId);
  const { enabledPlugins, issues: pluginIssues } = enablePlugins(file);
  const issues = [...fieldIssues, ...pluginIssues];
  if (issues.length > 0 || resolved === undefined) throw new WorkerConfigError(source, issues);
  return { ...resolved, enabledPlugins };
}

/** The file's `plugins` with their `pluginOptions`, each a built-in plugin named once. */
function enablePlugins(file: WorkerConfigFile): {
  enabledPlugins: Map<string, { plugin: WorkerPlugin; options: unknown }>;
  issues: ConfigIssue[];
} {
  const issues: ConfigIssue[] = [];
  const enabledPlugins = new Map<string, { plugin: WorkerPlugin; options: unknown }>();
  file.plugins.forEach((name, index) => {
    const plugin = BUILTIN_PLUGINS.get(name);
    if (plugin === undefined) {
      issues.push({
        fieldPath: `plugins.${index}`,
        message: `"${name}" is not a built-in plugin (known: ${[...BUILTIN_PLUGINS.keys()].join(', ')})`,
      });
      return;
    }
    if (enabledPlugins.has(name)) {
      issues.push({ fieldPath: `plugins.${index}`, message: `duplicate plugin "${name}"` });
      return;
    }
    const options = plugin.optionsSchema.safeParse(file.pluginOptions[name]);
    if (!options.success) {
      issues.push(...configIssues(options.error, ['pluginOptions', name]));
      return;
    }
    enabledPlugins.set(name, { plugin, options: options.data });
  });
  for (const name of Object.keys(file.pluginOptions)) {
    if (!file.plugins.includes(name)) {
      issues.push({ fieldPath: `pluginOptions.${name}`, message: `"${name}" is not in plugins` });
    }
  }
  return { enabledPlugins, issues };
}

/** Reads, validates and resolves a worker config file. */
export async function loadWorkerConfig(
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<WorkerConfig> {
  // Whoever can write this file decides what the agent runs: refused unless root or the agent's user owns it, not group/other writable.
  await checkConfigFile(file).catch((error: unknown) => {
    if (!(error instanceof HostFileError)) throw error;
    throw new WorkerConfigError(file, [{ fieldPath: '(file)', message: error.problem }], { cause: error });
  });
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new WorkerConfigError(file, [{ fieldPath: '(file)', message: 'cannot be read' }], { cause: error });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new WorkerConfigError(file, [{ fieldPath: '(root)', message: 'is not valid JSON' }], {
      cause: error,
    });
  }
  return parseWorkerConfig(raw, file, env);
}

/** `pattern` anchored: an argument must match it entirely. */
export function argumentPattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, 'u');
}
