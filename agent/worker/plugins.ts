import { statfs } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import * as z from 'zod';

/** A task's `execute_action` parameters (the contract's shape). */
export type PluginParameters = Readonly<Record<string, string | number | boolean>>;

/** What a plugin gets for one run. */
export interface PluginRunInput<Options> {
  readonly parameters: PluginParameters;
  /** The plugin's `pluginOptions.<name>` from the worker config, parsed with its `optionsSchema`. */
  readonly options: Options;
  /** Aborted when the plugin's time is up or the worker shuts down. */
  readonly signal: AbortSignal;
}

/**
 * A built-in action of `execute_action`. A task names a plugin; only plugins that are both
 * in {@link BUILTIN_PLUGINS} and enabled in the worker config (`plugins`) run.
 */
export interface WorkerPlugin {
  readonly name: string;
  readonly description: string;
  /** Host-local settings, `pluginOptions.<name>` in the config (field paths in config errors). */
  readonly optionsSchema: z.ZodType;
  /** The task's parameters; a mismatch fails the task with `invalid_arguments`. */
  readonly parametersSchema: z.ZodType<Record<string, unknown>>;
  run(input: PluginRunInput<unknown>): Promise<Record<string, unknown>>;
}

/** Types a plugin's `run` by its schemas, then erases them for the registry. */
export function definePlugin<O extends z.ZodType, P extends z.ZodType<Record<string, unknown>>>(spec: {
  readonly name: string;
  readonly description: string;
  readonly optionsSchema: O;
  readonly parametersSchema: P;
  run(input: {
    readonly parameters: z.output<P>;
    readonly options: z.output<O>;
    readonly signal: AbortSignal;
  }): Promise<Record<string, unknown>>;
}): WorkerPlugin {
  return {
    name: spec.name,
    description: spec.description,
    optionsSchema: spec.optionsSchema,
    parametersSchema: spec.parametersSchema,
    run: (input) =>
      spec.run({
        parameters: input.parameters as z.output<P>,
        options: input.options as z.output<O>,
        signal: input.signal,
      }),
  };
}

/** `echo`: returns its parameters unchanged (a harmless probe of the delegation path). */
export const echoPlugin = definePlugin({
  name: 'echo',
  description: 'returns its parameters',
  optionsSchema: z.object({}).strict().default({}),
  parametersSchema: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  run: async ({ parameters }) => ({ ...parameters }),
});

/** `disk_usage`: statfs of the configured path (`pluginOptions.disk_usage.path`, default `/`); takes no parameters. */
export const diskUsagePlugin = definePlugin({
  name: 'disk_usage',
  description: 'total, free and available bytes of the file system holding the configured path',
  optionsSchema: z
    .object({ path: z.string().refine(isAbsolute, 'must be an absolute path').default('/') })
    .strict()
    .default({ path: '/' }),
  parametersSchema: z.object({}).strict(),
  run: async ({ options }) => {
    const stats = await statfs(options.path);
    const total = stats.blocks * stats.bsize;
    const free = stats.bfree * stats.bsize;
    const available = stats.bavail * stats.bsize;
    return {
      path: options.path,
      total_bytes: total,
      free_bytes: free,
      available_bytes: available,
      used_bytes: total - free,
      used_percent: total === 0 ? 0 : Math.round(((total - free) / total) * 10_000) / 100,
    };
  },
});

/**
 * The built-in plugin registry, by name. The worker config's `plugins` enables some of them;
 * a task can name only an enabled one (else `plugin_not_registered`).
 *
 * @example
 * BUILTIN_PLUGINS.get('echo')?.run({ parameters: { a: 1 }, options: {}, signal }); // { a: 1 }
 */
export const BUILTIN_PLUGINS: ReadonlyMap<string, WorkerPlugin> = new Map(
  [echoPlugin, diskUsagePlugin].map((plugin) => [plugin.name, plugin]),
);
