import type { Context, ScheduledEvent } from 'aws-lambda';
import { aLambdaContext } from './factories.js';
import { startTelemetryHandlerEnvironment, type TelemetryHandlerEnvironment } from './handler-environment.js';
import { aScheduledEvent, captureHandlerOutput, type PrintedLine } from './handler-output.js';

/** A deployed scheduled function on the emulators, invoked as its rule invokes it. */
export interface ScheduledHandler<Result>
  extends Pick<TelemetryHandlerEnvironment, 'tableName' | 'documents'> {
  /** Invokes it once; its result and the JSON lines this invocation printed. */
  run(): Promise<{ result: Result; lines: PrintedLine[] }>;
  /** Gives stdout and stderr back, stops the bus and destroys the clients. */
  stop(): Promise<void>;
}

/**
 * `startTelemetryHandlerEnvironment`, then `variables` on top of the environment it sets, then
 * the handler module loaded with `load`. Its output is captured from before the load on, so
 * nothing it prints reaches the test output.
 */
export async function startScheduledHandler<Result>(options: {
  readonly prefix: string;
  readonly environment: string;
  /** The EventBridge schedule rule whose event each run sends. */
  readonly rule: string;
  /** The function's own settings, and any the test needs changed. */
  readonly variables: Readonly<Record<string, string>>;
  readonly load: () => Promise<{
    readonly handler: (event: ScheduledEvent, context: Context) => Promise<Result>;
  }>;
}): Promise<ScheduledHandler<Result>> {
  const deployed = await startTelemetryHandlerEnvironment(options);
  Object.assign(process.env, options.variables);
  const output = captureHandlerOutput();
  const stop = async () => {
    output.restore();
    await deployed.stop();
  };
  let handler: (event: ScheduledEvent, context: Context) => Promise<Result>;
  try {
    ({ handler } = await options.load());
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    tableName: deployed.tableName,
    documents: deployed.documents,
    run: async () => {
      output.take(); // only this run's lines
      const result = await handler(aScheduledEvent(options.rule), aLambdaContext());
      return { result, lines: output.take() };
    },
    stop,
  };
}
