import type { ExecutionResultPayload, WorkerTaskMessage } from '#contracts/worker-contract.js';
import type { Clock } from '../runner/clock.js';
import { redactSecrets } from '../runner/redact.js';
import type { RunningCommand, Spawner } from '../runner/watchdog.js';
import type { WorkerConfig } from './config.js';
import { collectFacts, type HostFacts } from './facts.js';
import { taskLogFields, type WorkerLog } from './log.js';
import { clipError, runScript } from './scripts.js';

/** How one task ended on this host: the `execution_result` payload, and the facts of collect_facts. */
export interface ExecutionOutcome {
  readonly result: ExecutionResultPayload;
  readonly facts?: HostFacts;
}

/** A task being executed. */
export interface ExecutingTask {
  readonly outcome: Promise<ExecutionOutcome>;
  /** Stops it now (the worker is shutting down): a script's tree is killed, a plugin is aborted. */
  abort(signal: NodeJS.Signals): void;
}

export interface TaskExecutorDeps {
  readonly log: WorkerLog;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
  readonly spawner?: Spawner;
}

/**
 * Runs claimed tasks on this host, each kind within what the host allows:
 * - `collect_facts`: the facts asked for (all by default);
 * - `execute_script`: only a script of the config's allowlist (`script_not_allowed` otherwise,
 *   nothing spawned), arguments within its `args`, under its timeout;
 * - `execute_action`: only a plugin that is built in and enabled (`plugin_not_registered`
 *   otherwise); its errors are `plugin_failed`, its time limit `pluginTimeoutMs`.
 * The outcome never rejects: an unexpected error is a `failed` result (`worker_error`).
 *
 * @example
 * const running = new TaskExecutor(config, { log, env: process.env, clock: systemClock }).execute(message);
 * const { result } = await running.outcome; // result.status === 'succeeded'
 */
export class TaskExecutor {
  public constructor(
    private readonly config: WorkerConfig,
    private readonly deps: TaskExecutorDeps,
  ) {}

  public execute(message: WorkerTaskMessage): ExecutingTask {
    const controller = new AbortController();
    let script: RunningCommand | undefined;
    let abortedBy: NodeJS.Signals | undefined;
    const started = this.deps.clock.now();
    const outcome = this.run(message, controller.signal, (running) => {
      script = running;
      if (abortedBy !== undefined) running.abort(abortedBy);
    }).catch((error: unknown): ExecutionOutcome => {
      this.deps.log.event('task_error', { ...taskLogFields(message), error: String(error) });
      return {
        result: {
          status: 'failed',
          errorCode: 'worker_error',
          error: clipError(`unexpected worker error: ${String(error)}`),
          durationMs: Math.round(this.deps.clock.now() - started),
        },
      };
    });
    return {
      outcome,
      abort: (signal) => {
        abortedBy ??= signal;
        controller.abort(new Error(`worker shutdown (${signal})`));
        script?.abort(signal);
      },
    };
  }

  private async run(
    message: WorkerTaskMessage,
    signal: AbortSignal,
    onStarted: (running: RunningCommand) => void,
  ): Promise<ExecutionOutcome> {
    const started = this.deps.clock.now();
    const durationMs = (): number => Math.max(0, Math.round(this.deps.clock.now() - started));
    const input = message.input;
    switch (input.kind) {
      case 'collect_facts': {
        const facts = await collectFacts(input.facts, { diskPath: this.config.factsDiskPath });
        return { result: { status: 'succeeded', durationMs: durationMs(), output: facts }, facts };
      }
      case 'execute_script': {
        const spec = this.config.scripts[input.script];
        if (spec === undefined) {
          this.deps.log.event('script_not_allowed', { ...taskLogFields(message), script: input.script });
          return {
            result: {
              status: 'failed',
              errorCode: 'script_not_allowed',
              error: `script "${input.script}" is not in this worker's allowlist; nothing was run`,
              durationMs: durationMs(),
            },
          };
        }
        if (signal.aborted) return { result: shutdownResult(durationMs()) };
        return {
          result: await runScript(message, input.script, input.args, spec, {
            ...this.deps,
            inheritEnv: this.config.inheritEnv,
            ...(this.config.scriptStagingDirectory === undefined
              ? {}
              : { stagingDirectory: this.config.scriptStagingDirectory }),
            onStarted,
          }),
        };
      }
      case 'execute_action': {
        const enabled = this.config.enabledPlugins.get(input.plugin);
        if (enabled === undefined) {
          this.deps.log.event('plugin_not_registered', { ...taskLogFields(message), plugin: input.plugin });
          return {
            result: {
              status: 'failed',
              errorCode: 'plugin_not_registered',
              error: `plugin "${input.plugin}" is not registered and enabled on this worker`,
              durationMs: durationMs(),
            },
          };
        }
        const parameters = enabled.plugin.parametersSchema.safeParse(input.parameters);
        if (!parameters.success) {
          const issue = parameters.error.issues[0];
          const where = ['parameters', ...(issue?.path.map(String) ?? [])].join('.');
          return {
            result: {
              status: 'failed',
              errorCode: 'invalid_arguments',
              error: clipError(`${where}: ${issue?.message ?? 'invalid'}`),
              durationMs: durationMs(),
            },
          };
        }
        return { result: await this.runPlugin(message, enabled, input.parameters, signal, durationMs) };
      }
    }
  }

  private async runPlugin(
    message: WorkerTaskMessage,
    enabled: NonNullable<ReturnType<WorkerConfig['enabledPlugins']['get']>>,
    parameters: Readonly<Record<string, string | number | boolean>>,
    shutdown: AbortSignal,
    durationMs: () => number,
  ): Promise<ExecutionResultPayload> {
    const timeoutMs = this.config.pluginTimeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([shutdown, timeout]);
    const stopped = new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    stopped.catch(() => undefined);
    const name = enabled.plugin.name;
    try {
      const output = await Promise.race([
        enabled.plugin.run({ parameters, options: enabled.options, signal }),
        stopped,
      ]);
      this.deps.log.event('plugin_executed', {
        ...taskLogFields(message),
        plugin: name,
        status: 'succeeded',
      });
      return { status: 'succeeded', durationMs: durationMs(), output };
    } catch (error) {
      const errorCode = timeout.aborted ? 'timeout' : shutdown.aborted ? 'worker_shutdown' : 'plugin_failed';
      // A plugin's error text leaves the host in the result: credential-looking strings are redacted.
      const text = redactSecrets(error instanceof Error ? error.message : String(error));
      this.deps.log.event('plugin_executed', {
        ...taskLogFields(message),
        plugin: name,
        status: 'failed',
        error_code: errorCode,
        error: text,
      });
      return {
        status: 'failed',
        errorCode,
        error: clipError(
          errorCode === 'timeout'
            ? `plugin ${name} ran longer than ${timeoutMs} ms`
            : `plugin ${name}: ${text}`,
        ),
        durationMs: durationMs(),
      };
    }
  }
}

function shutdownResult(durationMs: number): ExecutionResultPayload {
  return {
    status: 'failed',
    errorCode: 'worker_shutdown',
    error: 'the worker shut down before the task started',
    durationMs,
  };
}
