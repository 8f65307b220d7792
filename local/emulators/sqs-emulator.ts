/**
 * Runs fauxqs (an in-process SQS emulator speaking the JSON protocol) on
 * 127.0.0.1.
 *
 * `startFauxqs()` always listens on 0.0.0.0, so this builds the same Fastify
 * app with fauxqs' exported `buildApp()` and listens on loopback only. Without
 * `dataDir`, state is in memory.
 *
 * Queue URLs look like `http://sqs.us-east-1.localhost:<port>/000000000000/<name>`;
 * fauxqs reads only the region and name from them. Send every request to the
 * endpoint (`localSqsClient` sets `useQueueUrlAsEndpoint: false`), never to
 * the URL's host.
 *
 * With `dataDir`, queues and messages are kept in SQLite there (`SqsJournal`, sqs-journal.ts) and
 * survive a restart, even after `kill -9`: every write a request made is committed before its reply
 * leaves. fauxqs wires its own persistence only inside `startFauxqs()` (which listens on 0.0.0.0)
 * and that one loses messages (see sqs-journal.ts), so the journal is attached to a store passed to
 * `buildApp()`. fauxqs does not export its `SqsStore` class; it is loaded by file from the pinned
 * fauxqs 2.4.1 and its shape checked at start (a test restarts and kills the emulator to catch an
 * upgrade that breaks either).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildApp } from 'fauxqs';
import { EmulatorStartError, PortInUseError } from '../errors.js';
import { type FauxqsSqsStore, type FauxqsStores, SqsJournal } from './sqs-journal.js';

const SERVICE = 'SQS emulator';

export interface SqsEmulatorOptions {
  /** Port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
  /** Keep queues and messages in SQLite here, across restarts and kills. @default undefined (in memory) */
  readonly dataDir?: string;
}

/** fauxqs' `dist/` folder; its exports map offers only an ESM entry, so look it up on the module paths. */
function fauxqsDistDirectory(): string {
  const paths = createRequire(import.meta.url).resolve.paths('fauxqs') ?? [];
  const found = paths
    .map((dir) => join(dir, 'fauxqs', 'dist'))
    .find((dir) => existsSync(join(dir, 'sqs', 'sqsStore.js')));
  if (!found) throw new EmulatorStartError(SERVICE, 'fauxqs is not installed (run npm ci)');
  return found;
}

/** fauxqs' SQS store class, checked to have what the journal uses (fields of 2.4.1). */
async function loadSqsStoreClass(): Promise<new () => FauxqsSqsStore> {
  const file = pathToFileURL(join(fauxqsDistDirectory(), 'sqs', 'sqsStore.js')).href;
  const SqsStore = (await import(file)).SqsStore as (new () => FauxqsSqsStore) | undefined;
  const probe = SqsStore
    ? new SqsStore().createQueue('probe', 'http://probe/0/probe', 'arn:probe')
    : undefined;
  const fits =
    probe !== undefined &&
    typeof probe.isFifo === 'function' &&
    Array.isArray(probe.messages) &&
    Array.isArray(probe.delayedMessages) &&
    [probe.inflightMessages, probe.fifoMessages, probe.fifoDelayed, probe.fifoLockedGroups].every(
      (field) => field instanceof Map,
    );
  if (!fits) {
    throw new EmulatorStartError(
      SERVICE,
      `fauxqs' SqsStore (${file}) is not the one of fauxqs 2.4.1 that the data folder persistence was written for`,
    );
  }
  return SqsStore as new () => FauxqsSqsStore;
}

/** A store whose queues and messages live in `dataDir` too. */
async function persistentStore(dataDir: string): Promise<{ store: FauxqsSqsStore; journal: SqsJournal }> {
  const SqsStore = await loadSqsStoreClass();
  let journal: SqsJournal;
  try {
    journal = new SqsJournal(dataDir);
  } catch (error) {
    throw new EmulatorStartError(SERVICE, `cannot open its data in ${dataDir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const store = new SqsStore();
  try {
    journal.attach(store);
  } catch (error) {
    journal.close();
    throw new EmulatorStartError(SERVICE, `cannot load its data in ${dataDir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { store, journal };
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
  const persistent = options.dataDir ? await persistentStore(options.dataDir) : undefined;
  const app = buildApp({
    logger: false,
    // buildApp makes its own SNS and S3 stores when they are not given (the stack uses neither).
    ...(persistent ? { stores: { sqsStore: persistent.store } as FauxqsStores } : {}),
  });
  if (persistent) {
    const { journal } = persistent;
    // The request's writes are on disk before its reply is (usually committed already, in a microtask).
    app.addHook('onSend', async (_request, _reply, payload) => {
      journal.commit();
      return payload;
    });
    app.addHook('preClose', () => journal.close());
  }
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
