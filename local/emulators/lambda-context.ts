/**
 * A Lambda `Context` for invoking handlers locally, with the fields the
 * Node.js runtime sets and a `getRemainingTimeInMillis()` that counts down
 * from the function timeout.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { LOCAL_REGION } from './clients.js';

/** Account id in every local ARN (fauxqs uses the same one). */
export const LOCAL_ACCOUNT_ID = '000000000000';

export interface LambdaContextOptions {
  readonly functionName: string;
  /** The function timeout; `getRemainingTimeInMillis()` counts down from it. */
  readonly timeoutMs: number;
  /** @default randomUUID() */
  readonly awsRequestId?: string;
  /** @default 1024 */
  readonly memoryLimitInMB?: number;
  /** @default '$LATEST' */
  readonly functionVersion?: string;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

/**
 * @example
 * const context = createLambdaContext({ functionName: 'lane-worker', timeoutMs: 30_000 });
 * context.getRemainingTimeInMillis(); // ≈ 30000, then less
 */
export function createLambdaContext(options: LambdaContextOptions): Context {
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  const functionVersion = options.functionVersion ?? '$LATEST';
  const day = new Date(now()).toISOString().slice(0, 10).replaceAll('-', '/');
  const unsupported = (name: string) => (): never => {
    throw new Error(`context.${name}() is not supported locally: return a promise from the handler instead`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: options.functionName,
    functionVersion,
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${options.functionName}`,
    memoryLimitInMB: String(options.memoryLimitInMB ?? 1024),
    awsRequestId: options.awsRequestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: `${day}/[${functionVersion}]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}
