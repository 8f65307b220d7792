/**
 * Starts both local emulators the control plane needs: DynamoDB Local and the
 * SQS emulator, each on 127.0.0.1.
 */
import { join } from 'node:path';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.js';
import { type SqsEmulator, startSqsEmulator } from './sqs-emulator.js';

export interface StartEmulatorsOptions {
  /**
   * Both emulators keep their data below this folder (`dynamodb/`, `sqs/`), so
   * tables, queues and messages survive a restart. @default undefined (in memory)
   */
  readonly dataDir?: string;
  /** @default 0 (any free port) */
  readonly dynamoPort?: number;
  /** @default 0 (any free port) */
  readonly sqsPort?: number;
  /** How long DynamoDB Local may take to answer. @default 30_000 */
  readonly startTimeoutMs?: number;
}

export interface EmulatorTimings {
  /** Until DynamoDB Local answered ListTables (includes the Java version check). */
  readonly dynamoMs: number;
  readonly sqsMs: number;
  /** Wall clock of `startEmulators` (both start in parallel). */
  readonly totalMs: number;
}

export interface Emulators {
  /** `http://127.0.0.1:<port>` */
  readonly dynamoEndpoint: string;
  /** `http://127.0.0.1:<port>` */
  readonly sqsEndpoint: string;
  readonly timings: EmulatorTimings;
  /** Stops both; waits for the Java process to exit. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB Local (with `-sharedDb`) and the SQS emulator in parallel. If
 * either fails, the other is stopped and the error (with what to do about it)
 * is thrown.
 *
 * @example
 * const emulators = await startEmulators();
 * const dynamo = localDynamoDbClient(emulators.dynamoEndpoint);
 * const sqs = localSqsClient(emulators.sqsEndpoint);
 * // ...
 * await emulators.stop();
 */
export async function startEmulators(options: StartEmulatorsOptions = {}): Promise<Emulators> {
  const startedAt = performance.now();
  const [dynamo, sqs] = await Promise.allSettled([
    startDynamoDbLocal({
      ...(options.dataDir !== undefined && { dataDir: join(options.dataDir, 'dynamodb') }),
      ...(options.dynamoPort !== undefined && { port: options.dynamoPort }),
      ...(options.startTimeoutMs !== undefined && { startTimeoutMs: options.startTimeoutMs }),
    }),
    startSqsEmulator({
      ...(options.sqsPort !== undefined && { port: options.sqsPort }),
      ...(options.dataDir !== undefined && { dataDir: join(options.dataDir, 'sqs') }),
    }),
  ]);
  if (dynamo.status === 'rejected' || sqs.status === 'rejected') {
    await Promise.all([
      dynamo.status === 'fulfilled' ? dynamo.value.stop() : undefined,
      sqs.status === 'fulfilled' ? sqs.value.stop() : undefined,
    ]);
    throw dynamo.status === 'rejected' ? dynamo.reason : (sqs as PromiseRejectedResult).reason;
  }
  return compose(dynamo.value, sqs.value, Math.round(performance.now() - startedAt));
}

function compose(dynamo: DynamoDbLocal, sqs: SqsEmulator, totalMs: number): Emulators {
  let stopped: Promise<void> | undefined;
  return {
    dynamoEndpoint: dynamo.endpoint,
    sqsEndpoint: sqs.endpoint,
    timings: { dynamoMs: dynamo.startupMs, sqsMs: sqs.startupMs, totalMs },
    stop: () => {
      stopped ??= Promise.all([dynamo.stop(), sqs.stop()]).then(() => undefined);
      return stopped;
    },
  };
}
