/**
 * Runs fauxqs (an in-process SQS emulator speaking the JSON protocol) on
 * 127.0.0.1.
 *
 * `startFauxqs()` always listens on 0.0.0.0, so this builds the same Fastify
 * app with fauxqs' exported `buildApp()` and listens on loopback only. State
 * is in memory.
 *
 * Queue URLs look like `http://sqs.us-east-1.localhost:<port>/000000000000/<name>`;
 * fauxqs reads only the region and name from them. Send every request to the
 * endpoint (`localSqsClient` sets `useQueueUrlAsEndpoint: false`), never to
 * the URL's host.
 */
import { buildApp } from 'fauxqs';
import { EmulatorStartError, PortInUseError } from './errors.js';

const SERVICE = 'SQS emulator';

export interface SqsEmulatorOptions {
  /** Port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
}

export interface SqsEmulator {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** Milliseconds until the emulator listened. */
  readonly startupMs: number;
  /** Closes the server and every open connection. Idempotent. */
  stop(): Promise<void>;
}

/**
 * @example
 * const sqs = await startSqsEmulator();
 * const client = localSqsClient(sqs.endpoint);
 * await sqs.stop();
 */
export async function startSqsEmulator(options: SqsEmulatorOptions = {}): Promise<SqsEmulator> {
  const startedAt = performance.now();
  const requestedPort = options.port ?? 0;
  const app = buildApp({ logger: false });
  try {
    await app.listen({ port: requestedPort, host: '127.0.0.1' });
  } catch (error) {
    await app.close().catch(() => {});
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new PortInUseError(SERVICE, requestedPort, { cause: error });
    }
    throw new EmulatorStartError(SERVICE, String(error), { cause: error });
  }
  const address = app.server.address();
  if (address === null || typeof address === 'string') {
    await app.close();
    throw new EmulatorStartError(SERVICE, `unexpected listen address ${String(address)}`);
  }
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    startupMs: Math.round(performance.now() - startedAt),
    stop: () => {
      stopped ??= app.close().then(() => undefined);
      return stopped;
    },
  };
}
